// `JSONValue`, the type of events' and commands' data, lives in the wire-protocol module the
// hub shares: a program that imports SensorAgent sees it too.
@_exported import SensorWire
// TLS settings and errors are shared by every client of the package and defined by the core.
@_exported import struct ConnectionCore.TLSConfiguration
@_exported import enum ConnectionCore.TLSError
// The reconnect schedule of ``AgentClient/Configuration/reconnect``, shared by every client.
@_exported import struct ConnectionCore.Backoff
// The shape every client's connection state maps to (`phase`), defined by the shared core.
@_exported import enum ConnectionCore.ClientPhase
