// TLS settings and errors are shared by every client of the package and defined by the core:
// a program that imports Lantern configures TLS without importing anything else.
@_exported import struct ConnectionCore.TLSConfiguration
@_exported import enum ConnectionCore.TLSError
// The shape every client's connection state maps to (`phase`), defined by the shared core.
@_exported import enum ConnectionCore.ClientPhase
