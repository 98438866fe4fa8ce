import ConnectionCore
import TCPTransport
import WebSocketCore

/// One open WebSocket connection, client or server side: the ``WebSocketCodec`` running on a
/// ``StreamConnection`` of the shared event loop.
///
/// Receiving, backpressure and close handling are the core's (see ``StreamConnection``); this
/// type adds the WebSocket vocabulary: text and binary messages, pings, close codes.
package final class WebSocketConnection: Sendable {
    package let role: WebSocketSession.Role
    /// The request target: the client's path, or the path the server was asked for.
    package let path: String
    /// The opening-handshake request head (server side) or response head (client side).
    package let handshakeHead: HTTPHead
    /// The connection underneath, running a ``WebSocketCodec``.
    package let core: StreamConnection

    /// The peer's address, e.g. "127.0.0.1:52144".
    package var remoteAddress: String { core.remoteAddress }

    /// Wraps a connection whose handshake completed. Its configuration was used to open it and
    /// is not kept (it is large, and a hub holds thousands of connections).
    init(core: StreamConnection, role: WebSocketSession.Role) {
        self.core = core
        self.role = role
        let result = core.handshakeResult as? WebSocketHandshakeResult
        path = result?.path ?? "/"
        handshakeHead = result?.head ?? HTTPHead(startLine: "", fields: [])
    }

    /// A server connection whose opening handshake another protocol's server ran (an HTTP
    /// server that switched `core`'s codec to a ``WebSocketCodec`` after its 101 response).
    package init(upgraded core: StreamConnection, path: String, head: HTTPHead) {
        self.core = core
        self.role = .server
        self.path = path
        handshakeHead = head
    }

    // MARK: Opening

    /// Opens a client connection: resolves `host`, connects over TCP (each address in turn) and
    /// performs the opening handshake, all within `connectTimeout` (the handshake alone at
    /// most `handshakeTimeout`). Cancelling the calling task abandons the attempt.
    ///
    /// - Parameters:
    ///   - host: A name ("localhost"), an IPv4 or an IPv6 literal.
    ///   - port: The TCP port.
    ///   - path: The request target, e.g. "/" or "/runCase?case=1".
    ///   - configuration: Limits and timeouts.
    ///   - maskingKeys: where the client's masking keys come from (default: the CSPRNG).
    ///   - loop: the event loop to run on (default: the shared one).
    /// - Throws: ``WebSocketError/connectFailed(_:)``, ``WebSocketError/handshakeFailed(_:)``,
    ///   ``WebSocketError/handshakeTimedOut`` or ``WebSocketError/cancelled``.
    package static func connect(host: String, port: Int, path: String = "/", configuration: WebSocketConfiguration = .init(),
                                maskingKeys: any MaskingKeySource = SecureRandomMaskingKeys(),
                                loop: EventLoop = .shared) async throws(WebSocketError) -> WebSocketConnection {
        let codec = WebSocketCodec(role: .client, limits: configuration.limits, maskingKeys: maskingKeys,
                                   deflateConfiguration: configuration.deflate)
        let upgrade = ClientUpgrade(host: host, port: port, path: path, configuration: configuration)
        do {
            let core = try await StreamConnector.open(host: host, port: port, codec: codec, handshake: upgrade,
                                                      timeout: configuration.connectTimeout,
                                                      handshakeTimeout: configuration.handshakeTimeout,
                                                      configuration: configuration.connection, tls: configuration.tls, loop: loop)
            return WebSocketConnection(core: core, role: .client)
        } catch {
            switch error {
            case .socket(let socketError): throw .connectFailed(socketError)
            case .timedOut: throw .handshakeTimedOut
            case .cancelled: throw .cancelled
            case .closedDuringHandshake: throw .handshakeFailed(.connectionClosed)
            case .handshake(let failure as TLSError): throw .tlsFailed(failure)
            case .handshake(let failure): throw .handshakeFailed(failure as? HandshakeError ?? .connectionClosed)
            }
        }
    }

    // MARK: Receiving

    /// The messages the peer sends, in order. Ends (returns nil) after the last message
    /// before the connection closed; ``closure`` then tells how it ended.
    ///
    /// Meant for one consumer at a time; several concurrent consumers share the messages
    /// (each message goes to one of them).
    package var messages: Messages { Messages(connection: self) }

    /// The AsyncSequence of received messages.
    package struct Messages: AsyncSequence, Sendable {
        package typealias Element = WebSocketMessage
        let connection: WebSocketConnection

        package func makeAsyncIterator() -> Iterator { Iterator(connection: connection) }

        package struct Iterator: AsyncIteratorProtocol {
            let connection: WebSocketConnection
            package mutating func next() async -> WebSocketMessage? { await connection.receive() }
            package mutating func next(isolation actor: isolated (any Actor)?) async -> WebSocketMessage? {
                await connection.receive()
            }
        }
    }

    /// Takes the next message, waiting for one; nil once the connection has ended (or the
    /// task is cancelled while waiting).
    package func receive() async -> WebSocketMessage? {
        while let delivered = await core.receive() {
            if let message = Self.message(delivered) { return message }
        }
        return nil
    }

    /// Takes the next message and every further one already received (up to `limit`), in
    /// order: one wake-up for a burst instead of one per message. Nil once the connection
    /// has ended.
    package func receiveBatch(limit: Int = 256) async -> [WebSocketMessage]? {
        await core.receiveBatch(limit: limit).map { $0.compactMap(Self.message) }
    }

    /// Lets the loop thread hand messages to `handler` as they arrive, without waking the
    /// calling task (see `StreamConnection.receiveInline(limit:_:)`): `handler` returns how
    /// many of a batch it took; the rest, messages queued before, or none at the end come back
    /// here for the task. Nil once the connection has ended, or the task was cancelled.
    package func receiveInline(limit: Int = 256,
                               _ handler: @escaping @Sendable ([WebSocketMessage]) -> Int) async -> [WebSocketMessage]? {
        await core.receiveInline(limit: limit) { delivered in
            var messages: [WebSocketMessage] = []
            messages.reserveCapacity(delivered.count)
            for item in delivered {
                // Never otherwise: the task takes the batch, and the cast's assertion reports it.
                guard let message = item as? WebSocketCodec.Inbound else { return 0 }
                messages.append(message)
            }
            return handler(messages)
        }.map { $0.compactMap(Self.message) }
    }

    /// What the core delivered, as the codec's message (``WebSocketCodec/Inbound``; a
    /// WebSocket codec reports no failures: a protocol error is a close). The one cast on this
    /// edge, concrete: ``CodecConnection/item(_:)`` does the same generically, and through it
    /// every message a client or hub receives measured the end-to-end benchmark about 12 %
    /// slower.
    private static func message(_ received: any Sendable) -> WebSocketCodec.Inbound? {
        guard let message = received as? WebSocketCodec.Inbound else {
            assertionFailure("WebSocketCodec delivered \(type(of: received))")
            return nil
        }
        return message
    }

    // MARK: Sending

    /// Sends a text message. Returns once the frame is written to the socket or queued for
    /// it; waits first while more than `outboundHighWater` bytes are queued.
    /// - Throws: ``WebSocketError/closed(_:)`` once a close frame was sent or the connection
    ///   ended; ``WebSocketError/transportFailed(_:)`` if the socket fails during the write.
    package func send(text: String) async throws(WebSocketError) {
        try await send(WebSocketOutbound.text(text))
    }

    /// Sends a binary message (see ``send(text:)``).
    package func send(binary: [UInt8]) async throws(WebSocketError) {
        try await send(WebSocketOutbound.binary(binary))
    }

    /// Sends a message (see ``send(text:)``).
    package func send(_ message: WebSocketMessage) async throws(WebSocketError) {
        switch message {
        case .text(let text): try await send(text: text)
        case .binary(let bytes): try await send(binary: bytes)
        }
    }

    /// Sends one raw data frame: for tests and conformance tools that need fragments.
    package func send(frame opcode: WebSocketOpcode, payload: [UInt8], fin: Bool) async throws(WebSocketError) {
        try await send(WebSocketOutbound.frame(opcode, payload: payload, fin: fin))
    }

    /// Queues a text message at once, from any context, without waiting for backpressure, and
    /// writes it: for small control messages.
    /// - Throws: ``WebSocketError/outboundFull`` (nothing queued) while more than
    ///   `outboundHighWater` bytes wait; otherwise as ``send(text:)``.
    package func sendNow(text: String) throws(WebSocketError) {
        try sendNow(text: text, refusingAbove: nil)
    }

    /// Queues and writes a text message unless more than `limit` bytes already wait for the
    /// peer: then nothing is queued and ``WebSocketError/outboundFull`` is thrown (a hub
    /// dropping readings for a subscriber that does not keep up).
    package func sendNow(text: String, refusingAbove limit: Int?) throws(WebSocketError) {
        do {
            try core.sendNow(WebSocketOutbound.text(text), refusingAbove: limit)
        } catch {
            throw map(error)
        }
    }

    /// Queues several text messages at once and writes them with as few system calls as the
    /// socket allows (one, usually): the hub's fan-out of a batch of readings.
    /// - Parameter limit: refuse while more than this many bytes wait (default: the
    ///   high-water mark; `Int.max`: never refuse).
    /// - Throws: as ``sendNow(text:)``.
    package func sendNow(texts: some Collection<String>, refusingAbove limit: Int? = nil) throws(WebSocketError) {
        guard !texts.isEmpty else { return }
        do {
            try core.sendNow(WebSocketOutbound.texts(Array(texts)), refusingAbove: limit)
        } catch {
            throw map(error)
        }
    }

    /// Queues text messages framed once for many connections (the hub's fan-out: see
    /// ``EncodedTextMessages``), in order, and writes them: at once, or inside a long rapid
    /// burst by the connection's loop at the end of its turn with whatever else was queued by
    /// then (see `StreamConnection.sendSoon`).
    /// - Parameter limit: as ``sendNow(texts:refusingAbove:)``.
    /// - Throws: as ``sendNow(text:)``.
    package func sendSoon(encoded groups: [EncodedTextMessages], refusingAbove limit: Int? = nil) throws(WebSocketError) {
        guard !groups.isEmpty else { return }
        do {
            try core.sendSoon(WebSocketOutbound.encoded(groups), refusingAbove: limit)
        } catch {
            throw map(error)
        }
    }

    /// Queues text messages without writing them: for a caller that holds a lock of its own
    /// whose order the messages must follow. Call ``flush()`` once that lock is released.
    /// - Throws: as ``sendNow(text:)``.
    package func enqueue(texts: some Collection<String>) throws(WebSocketError) {
        do {
            try core.enqueue(WebSocketOutbound.texts(Array(texts)))
        } catch {
            throw map(error)
        }
    }

    /// Writes what ``enqueue(texts:)`` queued.
    package func flush() { core.flush() }

    /// Bytes queued for the socket and not yet written: how far the peer lags behind.
    package var pendingOutputBytes: Int { core.pendingOutputBytes }

    /// Waits until at most `limit` bytes wait for the socket, or the connection ended.
    package func waitForOutput(below limit: Int) async { await core.waitForOutput(below: limit) }

    private func send(_ outbound: WebSocketOutbound) async throws(WebSocketError) {
        do {
            try await core.send(outbound)
        } catch {
            throw map(error)
        }
    }

    private func map(_ error: ConnectionError) -> WebSocketError {
        switch error {
        case .closed: .closed(closure)
        case .transportFailed(let socketError): .transportFailed(socketError)
        case .outboundFull: .outboundFull
        case .rejected, .probeUnsupported: .invalidControlPayload
        case .cancelled: .cancelled
        }
    }

    /// Sends a ping and waits for its pong. Bound it with a timeout of your own (heartbeats).
    /// - Throws: ``WebSocketError/closed(_:)`` if the connection ends first.
    package func ping() async throws(WebSocketError) {
        do {
            try await core.probe()
        } catch {
            throw map(error)
        }
    }

    // MARK: Closing

    /// Starts the closing handshake with `code` and `reason`, then waits until the connection
    /// has ended (the peer's close arrived and TCP closed, or `closeTimeout` passed).
    /// Calling it again, or after the connection ended, just waits.
    @discardableResult
    package func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") async -> WebSocketSession.Closure {
        Self.closure(await core.close(WebSocketCloseFrame(code: code, reason: reason)))
    }

    /// Drops the connection at once, without a close handshake (TCP reset). For shutdown
    /// paths and tests.
    package func abort() { core.abort() }

    /// How the connection ended; nil while it is open.
    package var closure: WebSocketSession.Closure? { core.closure.map(Self.closure) }

    /// Waits until the connection has ended and returns how.
    package func closed() async -> WebSocketSession.Closure { Self.closure(await core.closed()) }

    /// The codec ends every connection with a ``WebSocketSession/Closure``.
    private static func closure(_ ended: any Sendable) -> WebSocketSession.Closure {
        guard let closure = ended as? WebSocketSession.Closure else {
            preconditionFailure("Internal inconsistency: a WebSocket connection ended with \(type(of: ended))")
        }
        return closure
    }
}
