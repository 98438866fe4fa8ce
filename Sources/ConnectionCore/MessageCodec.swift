/// A ``StreamCodec`` that names its message types: what it completes from the peer's bytes
/// (``Inbound``), what the application sends (``Outbound``), and how the peer can break the
/// protocol (``Failure``). Its connection's edge is a ``CodecConnection`` typed by them.
///
/// The codec implements the typed ``queue(_:)``; ``StreamCodec/send(_:)`` (what the untyped
/// core calls) comes from here and checks the message's type once. Its events carry its own
/// types: ``CodecEvent/message(_:byteCount:)`` an ``Inbound``, ``CodecEvent/failed(_:)`` a
/// ``Failure`` (a ``CodecConnection`` skips anything else, and a debug build stops there).
/// The WebSocket codec and connection write both casts out themselves (see below why).
package protocol MessageCodec: StreamCodec {
    /// A message the codec completes: the payload of each ``CodecEvent/message(_:byteCount:)``
    /// it emits.
    associatedtype Inbound: Sendable
    /// A message the application sends.
    associatedtype Outbound: Sendable
    /// How the peer broke the protocol: the error of each ``CodecEvent/failed(_:)`` it emits
    /// (`Never` when it cannot fail).
    associatedtype Failure: Error & Sendable = Never

    /// Queues `message` for the peer.
    /// - Throws: ``ConnectionError/closed`` once the protocol sends nothing more;
    ///   ``ConnectionError/rejected(_:)`` for a message it cannot send.
    mutating func queue(_ message: Outbound) throws(ConnectionError)
}

// A protocol whose connections carry many small messages (WebSocket) writes its own `send`
// and its own cast on receipt, concretely: through these generic members and
// `CodecConnection.item` (called from another module) the WebSocket path, every frame a client
// or hub receives, measured about 12 % slower end-to-end.
extension MessageCodec {
    /// The untyped entry the core calls: queues `message` if it is an ``Outbound``.
    /// - Throws: ``ConnectionError/rejected(_:)`` for any other type (a bug in the caller:
    ///   a ``CodecConnection`` cannot send one).
    package mutating func send(_ message: any Sendable) throws(ConnectionError) {
        try queue(Self.outbound(message))
    }

    /// `message` as an ``Outbound``, for codecs that forward other messages themselves (a
    /// server's HTTP codec, whose connection becomes a WebSocket).
    package static func outbound(_ message: any Sendable) throws(ConnectionError) -> Outbound {
        guard let typed = message as? Outbound else {
            throw .rejected("\(Self.self) sends \(Outbound.self), not \(type(of: message))")
        }
        return typed
    }
}

/// A failure a codec reported (``CodecEvent/failed(_:)``), as the untyped
/// ``StreamConnection/receive()`` hands it over; a ``CodecConnection`` turns it into
/// ``Received/failed(_:)``.
package struct CodecFailure: Sendable {
    /// The codec's error.
    package let error: any Error & Sendable
}
