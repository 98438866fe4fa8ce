// TLS settings and errors are shared by every client of the package and defined by the core:
// a program that imports MQTT configures TLS without importing anything else.
@_exported import struct ConnectionCore.TLSConfiguration
@_exported import enum ConnectionCore.TLSError
// The shape every client's connection state maps to, defined by the shared core; the MQTT
// client's states are this shape.
@_exported import enum ConnectionCore.ClientPhase
import ConnectionCore
