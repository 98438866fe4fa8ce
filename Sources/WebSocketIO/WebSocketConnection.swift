import Foundation
import Locking
import TCPTransport
import WebSocketCore

/// One open WebSocket connection, client or server side, on a real TCP socket.
///
/// Each connection owns one I/O thread that polls its socket: it reads into a reusable
/// buffer, feeds the sans-I/O ``WebSocketSession`` (which validates everything and answers
/// pings), queues complete messages for ``messages`` and writes what the session queues.
/// Senders write directly from their own context when the socket can take the bytes, and
/// wait (backpressure) only when more than ``WebSocketConfiguration/outboundHighWater`` bytes
/// are queued. A consumer that falls behind makes the thread stop reading, so the peer feels
/// TCP backpressure instead of this process growing without bound.
///
/// Closing: a close frame from the peer, or a protocol violation, is answered once the
/// consumer of ``messages`` has taken every message that arrived before it (or after
/// `closeTimeout` if it does not), so an application sees, and may answer, all of them.
package final class WebSocketConnection: Sendable {
    package let role: WebSocketSession.Role
    package let configuration: WebSocketConfiguration
    /// The request target: the client's path, or the path the server was asked for.
    package let path: String
    /// The opening-handshake request head (server side) or response head (client side).
    package let handshakeHead: HTTPHead
    /// The peer's address, e.g. "127.0.0.1:52144".
    package let remoteAddress: String

    let socket: Socket
    let wakeup: WakeupPipe
    let state: LockedValue<ConnectionState>

    /// Runs `body` under the lock, then the continuation resumptions it queued.
    func withState<Result, Failure: Error>(_ body: (inout ConnectionState) throws(Failure) -> Result) throws(Failure) -> Result {
        var deferred: [@Sendable () -> Void] = []
        let result = state.withLock { (state) -> Swift.Result<Result, Failure> in
            defer {
                deferred = state.deferred
                state.deferred.removeAll()
            }
            return Swift.Result { () throws(Failure) in try body(&state) }
        }
        for resumption in deferred { resumption() }
        return try result.get()
    }

    init(role: WebSocketSession.Role, socket: Socket, wakeup: WakeupPipe, configuration: WebSocketConfiguration,
         path: String, handshakeHead: HTTPHead, remoteAddress: String,
         maskingKeys: any MaskingKeySource = SecureRandomMaskingKeys()) {
        self.role = role
        self.socket = socket
        self.wakeup = wakeup
        self.configuration = configuration
        self.path = path
        self.handshakeHead = handshakeHead
        self.remoteAddress = remoteAddress
        self.state = LockedValue(ConnectionState(session: WebSocketSession(role: role, configuration: configuration.limits,
                                                                      maskingKeys: maskingKeys)))
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
        var wake = false
        let immediate = withState { $0.takeNext(socket: socket, configuration: configuration, wake: &wake) }
        if wake { wakeup.wake() }
        if let immediate { return immediate }
        let id = UInt64.random(in: 0 ... .max)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<WebSocketMessage?, Never>) in
                var wake = false
                withState { state in
                    if let ready = state.takeNext(socket: socket, configuration: configuration, wake: &wake) {
                        state.deferred.append { continuation.resume(returning: ready) }
                    } else if Task.isCancelled {
                        state.deferred.append { continuation.resume(returning: nil) }
                    } else {
                        state.receivers.append((id, continuation))
                    }
                }
                if wake { wakeup.wake() }
            }
        } onCancel: {
            withState { state in
                guard let index = state.receivers.firstIndex(where: { $0.id == id }) else { return }
                let continuation = state.receivers.remove(at: index).continuation
                state.deferred.append { continuation.resume(returning: nil) }
            }
        }
    }

    /// Takes the next message and every further one already received (up to `limit`), in
    /// order: one wake-up for a burst instead of one per message. Nil once the connection
    /// has ended.
    package func receiveBatch(limit: Int = 256) async -> [WebSocketMessage]? {
        guard let first = await receive() else { return nil }
        var wake = false
        let more = withState { $0.takeQueuedMessages(limit: limit - 1, configuration: configuration, wake: &wake) }
        if wake { wakeup.wake() }
        return [first] + more
    }

    // MARK: Sending

    /// Sends a text message. Returns once the frame is written to the socket or queued for
    /// it; waits first while more than `outboundHighWater` bytes are queued.
    /// - Throws: ``WebSocketError/closed(_:)`` once a close frame was sent or the connection
    ///   ended; ``WebSocketError/transportFailed(_:)`` if the socket fails during the write.
    package func send(text: String) async throws(WebSocketError) {
        try await send { (session) throws(WebSocketSession.SendError) in try session.sendText(text) }
    }

    /// Queues a text message at once, from any context, without waiting for backpressure:
    /// for small control messages whose order must follow the caller's lock order.
    /// - Throws: as ``send(text:)``.
    package func sendNow(text: String) throws(WebSocketError) {
        try sendNow(texts: CollectionOfOne(text))
    }

    /// Queues several text messages at once and writes them with as few system calls as the
    /// socket allows (one, usually): the hub's fan-out of a batch of readings.
    /// - Throws: as ``send(text:)``.
    package func sendNow(texts: some Collection<String>) throws(WebSocketError) {
        guard !texts.isEmpty else { return }
        let pending = try withState { (state) throws(WebSocketError) -> Bool in
            _ = try state.queue(socket: socket, highWater: .max) { (session) throws(WebSocketSession.SendError) in
                for text in texts { try session.sendText(text) }
            }
            return state.session.pendingOutputCount > 0
        }
        if pending { wakeup.wake() }
    }

    /// Bytes queued for the socket and not yet written: how far the peer lags behind.
    package var pendingOutputBytes: Int {
        withState { $0.session.pendingOutputCount }
    }

    /// Sends a binary message (see ``send(text:)``).
    package func send(binary: [UInt8]) async throws(WebSocketError) {
        try await send { (session) throws(WebSocketSession.SendError) in try session.sendBinary(binary) }
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
        try await send { (session) throws(WebSocketSession.SendError) in
            guard session.canSend else { throw .closed }
            payload.withUnsafeBytes { try? session.send(opcode, payload: $0, fin: fin) }
        }
    }

    private func send(_ enqueue: (inout WebSocketSession) throws(WebSocketSession.SendError) -> Void) async throws(WebSocketError) {
        let highWater = configuration.outboundHighWater
        let outcome = withState { state in
            Result { () throws(WebSocketError) -> (target: UInt64?, pending: Bool) in
                let target = try state.queue(socket: socket, highWater: highWater, enqueue)
                return (target, state.session.pendingOutputCount > 0)
            }
        }
        let (target, pending): (UInt64?, Bool)
        do {
            (target, pending) = try outcome.get()
        } catch {
            wakeup.wake()  // the I/O thread notices the failed socket
            throw error
        }
        if pending { wakeup.wake() }  // the I/O thread writes the rest when the socket can take it
        guard let target else { return }
        let drained: Result<Void, WebSocketError> = await withCheckedContinuation { continuation in
            withState { $0.waitForDrain(to: target, continuation) }
        }
        try drained.get()
    }

    /// Sends a ping and waits for its pong. Bound it with a timeout of your own (heartbeats).
    /// - Throws: ``WebSocketError/closed(_:)`` if the connection ends first.
    package func ping() async throws(WebSocketError) {
        let result: Result<Void, WebSocketError> = await withCheckedContinuation { continuation in
            withState { state in
                state.pingCounter += 1
                let id = state.pingCounter
                let payload = withUnsafeBytes(of: id.bigEndian) { Array($0) }
                do throws(WebSocketError) {
                    _ = try state.queue(socket: socket, highWater: .max) { (session) throws(WebSocketSession.SendError) in
                        try session.sendPing(payload)
                    }
                    state.addPingWaiter(id: id, continuation)
                } catch {
                    state.deferred.append { continuation.resume(returning: .failure(error)) }
                }
            }
            wakeup.wake()
        }
        try result.get()
    }

    // MARK: Closing

    /// Starts the closing handshake with `code` and `reason`, then waits until the connection
    /// has ended (the peer's close arrived and TCP closed, or `closeTimeout` passed).
    /// Calling it again, or after the connection ended, just waits.
    @discardableResult
    package func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") async -> WebSocketSession.Closure {
        withState { state in
            guard !state.isFinished else { return }
            if state.session.close(WebSocketCloseFrame(code: code, reason: reason)) {
                state.closeDeadline = ContinuousClock.now + configuration.closeTimeout
                _ = state.flush(to: socket)
            }
        }
        wakeup.wake()
        return await closed()
    }

    /// Drops the connection at once, without a close handshake (TCP reset). For shutdown
    /// paths and tests.
    package func abort() {
        withState { $0.abortRequested = true }
        wakeup.wake()
    }

    /// How the connection ended; nil while it is open.
    package var closure: WebSocketSession.Closure? {
        withState { $0.finalClosure }
    }

    /// Waits until the connection has ended and returns how.
    package func closed() async -> WebSocketSession.Closure {
        await withCheckedContinuation { continuation in
            withState { state in
                if let closure = state.finalClosure, state.isFinished {
                    state.deferred.append { continuation.resume(returning: closure) }
                } else {
                    state.closeWaiters.append(continuation)
                }
            }
        }
    }

    // MARK: I/O thread

    /// Runs the connection on the calling thread until it ends. `initialBytes` are bytes
    /// that arrived right after the handshake.
    func runIOLoop(initialBytes: [UInt8]) {
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        if !initialBytes.isEmpty {
            var bytes = initialBytes
            bytes.withUnsafeMutableBytes { process($0) }
        }
        var endOfInput = false
        while true {
            let plan = withState { $0.plan(role: role, endOfInput: endOfInput, configuration: configuration) }
            guard case .wait(let read, let write, let timeout) = plan else { break }
            var events: PollEvents = []
            if read { events.insert(.readable) }
            if write { events.insert(.writable) }
            guard let ready = try? pollDescriptors([(socket.descriptor, events), (wakeup.readDescriptor, .readable)],
                                                   timeoutMilliseconds: timeout) else { break }
            if !ready[1].isEmpty { wakeup.drain() }
            let socketEvents = ready[0]
            if write && !socketEvents.isDisjoint(with: [.writable, .failure]) {
                withState { _ = $0.flush(to: socket) }
            }
            if read && !socketEvents.isDisjoint(with: [.readable, .failure]) {
                endOfInput = readAvailable(into: buffer)
            }
            withState { $0.checkDeadlines(socket: socket) }
        }
        withState { state in
            state.finish(socket: socket)
            state.deliverToWaitingReceivers(socket: socket, configuration: configuration)
        }
    }

    /// Reads what the socket has (a few reads while it keeps filling the buffer and the
    /// consumer keeps up) and processes it. Returns true at end of input.
    private func readAvailable(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        for _ in 0..<4 {
            do {
                switch try socket.read(into: buffer) {
                case .bytes(let count):
                    process(UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]))
                    guard count == buffer.count, withState({ $0.wantsToRead(configuration: configuration) }) else {
                        return false
                    }
                case .wouldBlock:
                    return false
                case .endOfFile:
                    return true
                }
            } catch {
                withState { $0.transportError = error }
                return false
            }
        }
        return false
    }

    /// Feeds received bytes to the session and queues what they complete.
    private func process(_ bytes: UnsafeMutableRawBufferPointer) {
        withState { state in
            var items: [ConnectionState.InboxItem] = []
            var pongIDs: [UInt64] = []
            state.session.receive(bytes) { event in
                switch event {
                case .text(let payload): items.append(.message(.text(payload.string), payload.count))
                case .binary(let payload): items.append(.message(.binary(payload.array), payload.count))
                case .ping: break
                case .pong(let payload):
                    if payload.count == 8 {
                        pongIDs.append(payload.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) })
                    }
                case .closeReceived, .failed:
                    items.append(.end(finishClosing: true))
                }
            }
            state.enqueue(items)
            for id in pongIDs { state.pongReceived(id: id) }
            state.deliverToWaitingReceivers(socket: socket, configuration: configuration)
            state.scheduleFinishClosing(socket: socket, configuration: configuration)
            _ = state.flush(to: socket)
        }
    }
}
