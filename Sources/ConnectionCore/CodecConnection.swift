/// What a ``CodecConnection``'s consumer takes: a message, or the protocol failure that ended
/// the peer's input (after every message that came before it; the end follows).
package enum Received<Message: Sendable, Failure: Error & Sendable>: Sendable {
    /// A message from the peer.
    case message(Message)
    /// The peer broke the protocol; nothing more is read.
    case failed(Failure)
}

/// A ``StreamConnection`` seen through its codec's message types: the edge a protocol's client
/// or server holds (FastSlow, MetricStore, Lantern, the HTTP server). Receiving yields
/// `Codec.Inbound` messages and `Codec.Failure` failures, sending takes `Codec.Outbound`; the
/// casts from the core's `any Sendable` are made here, once. (`WebSocketConnection` is the
/// same edge for WebSocket, with its casts written out concretely: see ``MessageCodec``.)
///
/// A thin value over the connection: closing, buffers and the peer's address are on
/// ``stream``.
package struct CodecConnection<Codec: MessageCodec>: Sendable, Equatable {
    /// One item a consumer takes.
    package typealias Item = Received<Codec.Inbound, Codec.Failure>

    /// The connection itself.
    package let stream: StreamConnection

    /// Views `stream` (which runs a `Codec`, or a codec that forwards to one) through its
    /// message types.
    package init(_ stream: StreamConnection) {
        self.stream = stream
    }

    /// The next message or failure, waiting for one; nil once the connection has ended (or
    /// the task is cancelled while waiting). See ``StreamConnection/receive()``.
    package func receive() async -> Item? {
        while let delivered = await stream.receive() {
            if let item = Self.item(delivered) { return item }
        }
        return nil
    }

    /// The next item and every further one already received (up to `limit`), in order; nil
    /// once the connection has ended. See ``StreamConnection/receiveBatch(limit:)``.
    package func receiveBatch(limit: Int = 256) async -> [Item]? {
        await stream.receiveBatch(limit: limit)?.compactMap(Self.item)
    }

    /// Sends `message`, waiting while the output is over its high-water mark. See
    /// ``StreamConnection/send(_:)``.
    package func send(_ message: Codec.Outbound) async throws(ConnectionError) {
        try await stream.send(message)
    }

    /// Queues `message` and writes it now. See ``StreamConnection/sendNow(_:refusingAbove:)``.
    package func sendNow(_ message: Codec.Outbound, refusingAbove limit: Int? = nil) throws(ConnectionError) {
        try stream.sendNow(message, refusingAbove: limit)
    }

    /// Queues `message` to be written soon. See ``StreamConnection/sendSoon(_:refusingAbove:)``.
    package func sendSoon(_ message: Codec.Outbound, refusingAbove limit: Int? = nil) throws(ConnectionError) {
        try stream.sendSoon(message, refusingAbove: limit)
    }

    /// Queues `message` without writing it. See ``StreamConnection/enqueue(_:)``.
    package func enqueue(_ message: Codec.Outbound) throws(ConnectionError) {
        try stream.enqueue(message)
    }

    /// The same connection (identity, not state).
    package static func == (lhs: CodecConnection, rhs: CodecConnection) -> Bool {
        lhs.stream === rhs.stream
    }

    /// What the core delivered, as this codec's types. A codec delivers nothing else;
    /// anything else is a bug in the codec: it stops a debug build, and a release build skips
    /// it (nil) rather than crash on what a peer sent.
    package static func item(_ delivered: any Sendable) -> Item? {
        if let message = delivered as? Codec.Inbound { return .message(message) }
        if let failure = delivered as? CodecFailure, let typed = failure.error as? Codec.Failure { return .failed(typed) }
        assertionFailure("\(Codec.self) delivered \(type(of: delivered)), not \(Codec.Inbound.self) or \(Codec.Failure.self)")
        return nil
    }
}
