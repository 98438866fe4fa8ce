import TCPTransport
import WebSocketCore

/// Everything a ``WebSocketConnection`` shares between its I/O thread and the tasks that
/// send and receive; always accessed under the connection's lock.
///
/// Continuations are never resumed under the lock: resuming takes the waiting task's status
/// lock, which `Task.cancel()` holds while it runs a cancellation handler that takes our lock.
/// Resumptions are queued in ``deferred`` and run by the owner after unlocking.
struct ConnectionState {
    /// One entry of the received-message queue.
    enum InboxItem {
        /// A message and its size in bytes.
        case message(WebSocketMessage, Int)
        /// The end of the messages. `finishClosing`: the session still has to send its close
        /// frame (an answer to the peer's close, or a protocol error's close) when the
        /// consumer reaches this point.
        case end(finishClosing: Bool)
    }

    /// What the I/O thread should do next.
    enum Plan {
        /// Poll the socket for these events, at most this many milliseconds (-1: no limit).
        case wait(read: Bool, write: Bool, timeoutMilliseconds: Int32)
        /// Close the socket and end the connection.
        case exit
    }

    typealias Waiter = CheckedContinuation<Result<Void, WebSocketError>, Never>

    var session: WebSocketSession

    /// Continuation resumptions to run once the lock is released.
    var deferred: [@Sendable () -> Void] = []

    // Received messages, consumed from `inboxHead` on.
    private var inbox: [InboxItem] = []
    private var inboxHead = 0
    private(set) var inboxBytes = 0
    private var messagesEnded = false
    /// A consumer took a message and has not asked for the next one yet: it may be
    /// answering it, so a close must not overtake that answer.
    private var consumerBusy = false
    var receivers: [(id: UInt64, continuation: CheckedContinuation<WebSocketMessage?, Never>)] = []
    /// The I/O thread stopped reading because the inbox is full.
    var readingPaused = false

    /// When a deferred close (see ``InboxItem/end(finishClosing:)``) is sent anyway.
    private var finishClosingDeadline: ContinuousClock.Instant?
    /// When the connection is dropped if the close handshake has not completed.
    var closeDeadline: ContinuousClock.Instant?

    // Output accounting for backpressure.
    private var bytesQueued: UInt64 = 0
    private var bytesWritten: UInt64 = 0
    private var sendWaiters: [(target: UInt64, continuation: Waiter)] = []

    var pingCounter: UInt64 = 0
    private var pingWaiters: [(id: UInt64, continuation: Waiter)] = []
    var closeWaiters: [CheckedContinuation<WebSocketSession.Closure, Never>] = []

    var transportError: SocketError?
    var abortRequested = false
    private(set) var isFinished = false
    private(set) var finalClosure: WebSocketSession.Closure?
    private var socketOpen = true

    init(session: WebSocketSession) {
        self.session = session
    }

    // MARK: Consumer side

    /// Takes the next inbox item for a consumer. Returns `.some(message)` or `.some(nil)`
    /// (the end), or nil when the consumer has to wait. Sets `wake` when the I/O thread has
    /// work because of it (reading resumes, a close frame to write).
    mutating func takeNext(socket: Socket, configuration: WebSocketConfiguration, wake: inout Bool) -> WebSocketMessage?? {
        consumerBusy = false
        if inboxHead < inbox.count {
            let item = inbox[inboxHead]
            inboxHead += 1
            if inboxHead == inbox.count {
                inbox.removeAll(keepingCapacity: true)
                inboxHead = 0
            } else if inboxHead >= 1024 && inboxHead * 2 >= inbox.count {
                inbox.removeFirst(inboxHead)
                inboxHead = 0
            }
            switch item {
            case .message(let message, let size):
                inboxBytes -= size
                if readingPaused && inboxBytes < configuration.inboundBufferLimit { wake = true }
                consumerBusy = true
                return .some(message)
            case .end(let finishClosing):
                messagesEnded = true
                if finishClosing {
                    finishClosingNow(socket: socket)
                    wake = true
                }
                return .some(nil)
            }
        }
        if messagesEnded || isFinished { return .some(nil) }
        return nil
    }

    /// Takes up to `limit` messages that are already queued, without waiting, stopping at
    /// the end marker (left for the next ``takeNext``). Counts as the consumer coming back.
    mutating func takeQueuedMessages(limit: Int, configuration: WebSocketConfiguration, wake: inout Bool) -> [WebSocketMessage] {
        var messages: [WebSocketMessage] = []
        while messages.count < limit, inboxHead < inbox.count, case .message(let message, let size) = inbox[inboxHead] {
            inboxHead += 1
            inboxBytes -= size
            messages.append(message)
        }
        if inboxHead == inbox.count {
            inbox.removeAll(keepingCapacity: true)
            inboxHead = 0
        }
        if readingPaused && inboxBytes < configuration.inboundBufferLimit && !messages.isEmpty { wake = true }
        return messages
    }

    /// Appends what the session produced from one read; decides when a close is answered.
    mutating func enqueue(_ items: [InboxItem]) {
        for item in items {
            if case .message(_, let size) = item { inboxBytes += size }
            inbox.append(item)
        }
    }

    /// Hands inbox items to consumers already waiting, in order.
    mutating func deliverToWaitingReceivers(socket: Socket, configuration: WebSocketConfiguration) {
        var wake = false
        while !receivers.isEmpty, let next = takeNext(socket: socket, configuration: configuration, wake: &wake) {
            let receiver = receivers.removeFirst()
            deferred.append { receiver.continuation.resume(returning: next) }
            if next == nil {
                for other in receivers { deferred.append { other.continuation.resume(returning: nil) } }
                receivers.removeAll()
            }
        }
    }

    /// After a read: a pending close goes out now if no message precedes it in the inbox and
    /// no consumer is busy with one; otherwise it waits until the consumer reaches it, at most
    /// `closeTimeout`.
    mutating func scheduleFinishClosing(socket: Socket, configuration: WebSocketConfiguration) {
        guard session.needsFinishClosing, finishClosingDeadline == nil else { return }
        let messagePending = inbox[inboxHead...].contains { if case .message = $0 { true } else { false } }
        if !messagePending && !consumerBusy {
            finishClosingNow(socket: socket)
        } else {
            finishClosingDeadline = .now + configuration.closeTimeout
        }
    }

    /// Sends the deferred close frame and turns the inbox's end marker into a plain end.
    private mutating func finishClosingNow(socket: Socket) {
        finishClosingDeadline = nil
        guard session.needsFinishClosing else { return }
        session.finishClosing()
        for index in inboxHead..<inbox.count {
            if case .end(true) = inbox[index] { inbox[index] = .end(finishClosing: false) }
        }
        _ = flush(to: socket)
    }

    // MARK: Sending side

    /// Runs `enqueue` on the session and writes what the socket takes now.
    /// Returns the byte count the sender must wait for (backpressure), or nil.
    mutating func queue(socket: Socket, highWater: Int,
                        _ enqueue: (inout WebSocketSession) throws(WebSocketSession.SendError) -> Void) throws(WebSocketError) -> UInt64? {
        guard !isFinished else { throw .closed(finalClosure) }
        let before = session.pendingOutputCount
        do {
            try enqueue(&session)
        } catch {
            throw error == .closed ? .closed(session.closure) : .invalidControlPayload
        }
        bytesQueued += UInt64(session.pendingOutputCount - before)
        if let error = flush(to: socket) { throw error }
        let pending = session.pendingOutputCount
        return pending > highWater ? bytesQueued - UInt64(highWater) : nil
    }

    /// Registers a sender waiting for the output to drain down to `target` bytes written.
    mutating func waitForDrain(to target: UInt64, _ continuation: Waiter) {
        if bytesWritten >= target {
            deferred.append { continuation.resume(returning: .success(())) }
        } else if isFinished {
            let closure = finalClosure
            deferred.append { continuation.resume(returning: .failure(.closed(closure))) }
        } else {
            sendWaiters.append((target, continuation))
        }
    }

    /// Registers a ping waiting for its pong.
    mutating func addPingWaiter(id: UInt64, _ continuation: Waiter) {
        pingWaiters.append((id, continuation))
    }

    /// A pong carrying ping number `id` answers that ping and every earlier one.
    mutating func pongReceived(id: UInt64) {
        pingWaiters.removeAll { waiter in
            guard waiter.id <= id else { return false }
            deferred.append { waiter.continuation.resume(returning: .success(())) }
            return true
        }
    }

    /// Writes queued output until the socket would block. Returns the error if it failed.
    mutating func flush(to socket: Socket) -> WebSocketError? {
        guard socketOpen else { return nil }
        var failure: SocketError?
        while session.pendingOutputCount > 0 {
            let written = session.writePendingOutput { bytes in
                switch Result(catching: { () throws(SocketError) in try socket.write(bytes) }) {
                case .success(.bytes(let count)): return count
                case .success: return 0
                case .failure(let error): failure = error; return 0
                }
            }
            bytesWritten += UInt64(written)
            if written == 0 { break }
        }
        if !sendWaiters.isEmpty {
            sendWaiters.removeAll { waiter in
                guard bytesWritten >= waiter.target else { return false }
                deferred.append { waiter.continuation.resume(returning: .success(())) }
                return true
            }
        }
        if let failure {
            transportError = failure
            return .transportFailed(failure)
        }
        return nil
    }

    // MARK: I/O thread

    func wantsToRead(configuration: WebSocketConfiguration) -> Bool {
        !isFinished && inboxBytes < configuration.inboundBufferLimit
    }

    /// Decides what the I/O thread does next.
    mutating func plan(role: WebSocketSession.Role, endOfInput: Bool, configuration: WebSocketConfiguration) -> Plan {
        if abortRequested || transportError != nil || endOfInput { return .exit }
        let now = ContinuousClock.now
        let write = session.pendingOutputCount > 0
        let read: Bool
        if session.closure != nil {
            // Closed: flush the last frames; a server then closes TCP, a client waits for the
            // server to do it (RFC 6455 section 7.1.1), both within closeTimeout.
            if closeDeadline == nil { closeDeadline = now + configuration.closeTimeout }
            if !write && role == .server { return .exit }
            read = !write
        } else {
            read = session.isReading && inboxBytes < configuration.inboundBufferLimit
        }
        readingPaused = session.isReading && !read
        let deadlines = [finishClosingDeadline, closeDeadline].compactMap { $0 }
        let timeout = deadlines.min().map { now.duration(to: $0).milliseconds } ?? -1
        return .wait(read: read, write: write, timeoutMilliseconds: timeout)
    }

    /// Applies deadlines that have passed.
    mutating func checkDeadlines(socket: Socket) {
        let now = ContinuousClock.now
        if let deadline = finishClosingDeadline, now >= deadline {
            finishClosingNow(socket: socket)
        }
        if let deadline = closeDeadline, now >= deadline {
            abortRequested = true
        }
    }

    /// Closes the socket and ends everything: messages, senders, pings, close waiters.
    mutating func finish(socket: Socket) {
        guard !isFinished else { return }
        session.transportClosed()
        if abortRequested && session.closure?.isClean != true {
            socket.abort()
        } else {
            socket.shutdown()
            socket.close()
        }
        socketOpen = false
        isFinished = true
        let closure = session.closure
        finalClosure = closure
        let hasEnd = inbox[inboxHead...].contains { if case .end = $0 { return true } else { return false } }
        if !hasEnd && !messagesEnded { inbox.append(.end(finishClosing: false)) }
        for waiter in sendWaiters { deferred.append { waiter.continuation.resume(returning: .failure(.closed(closure))) } }
        sendWaiters.removeAll()
        for waiter in pingWaiters { deferred.append { waiter.continuation.resume(returning: .failure(.closed(closure))) } }
        pingWaiters.removeAll()
        if let closure {
            for waiter in closeWaiters { deferred.append { waiter.resume(returning: closure) } }
            closeWaiters.removeAll()
        }
    }
}
