import ConnectionCore

// `JSONValue`, the type of every reading, is part of this library's public API but lives in the
// wire-protocol module that the hub shares: an app that imports SensorStream sees it too.
@_exported import SensorWire
// TLS settings and errors are shared by every client of the package and defined by the core.
@_exported import struct ConnectionCore.TLSConfiguration
@_exported import enum ConnectionCore.TLSError

/// Exponential backoff with jitter (or a fixed delay): the reconnect policy's calculation,
/// also usable with ``withRetry(_:clock:unitRandom:shouldRetry:_:)``. Defined by the shared
/// connection core.
public typealias Backoff = ConnectionCore.Backoff
// The shape every client's connection state maps to (`phase`), defined by the shared core.
@_exported import enum ConnectionCore.ClientPhase
