// TLS settings and errors are shared by every client and server of the package and defined by
// the core: a program that imports FastSlow configures TLS without importing anything else.
@_exported import struct ConnectionCore.TLSConfiguration
@_exported import struct ConnectionCore.TLSServerConfiguration
@_exported import enum ConnectionCore.TLSError
