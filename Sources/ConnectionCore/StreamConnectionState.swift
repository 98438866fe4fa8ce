import TCPTransport

/// Everything a ``StreamConnection`` shares between the loop thread and the tasks that send
/// and receive; always used under the connection's lock, never calling out from there.
///
/// Continuations are never resumed under the lock (resuming takes the waiting task's status
/// lock, which `Task.cancel()` holds while it runs a cancellation handler that takes ours):
/// resumptions are queued in ``deferred`` and run by the owner after unlocking. Socket writes
/// are made outside the lock too (see ``takeForWriting()``).
package struct StreamConnectionState: Sendable {
    /// One entry of the received-message queue.
    enum InboxItem: Sendable {
        /// A message and its size in bytes.
        case message(any Sendable, Int)
        /// The end of the messages. `finishClosing`: the codec still has to answer the peer's
        /// close (or a protocol error) when the consumer reaches this point.
        case end(finishClosing: Bool)
    }

    /// What a consumer found in the inbox.
    enum Take: Sendable {
        case message(any Sendable)
        case end
        /// Nothing yet: wait.
        case empty
    }

    /// What the loop should do with the socket next.
    enum Plan: Sendable {
        /// Watch for these events; wake up at `deadline` at the latest.
        case watch(PollEvents, deadline: ContinuousClock.Instant?)
        /// Close the socket and end the connection.
        case finish
    }

    typealias Waiter = CheckedContinuation<Result<Void, ConnectionError>, Never>

    var codec: any StreamCodec
    /// TLS between the socket and the handshake and codec, when the connection uses it:
    /// everything received is decrypted first, everything queued is encrypted.
    let transport: (any SecureTransport)?
    /// The codec closed and the transport's close notification was queued.
    private var transportCloseQueued = false
    /// Reused for decrypted bytes.
    private var plaintextScratch: [UInt8] = []
    /// The handshake still running; nil once it completed.
    var handshake: (any StreamHandshake)?
    /// What the completed handshake learned.
    private(set) var handshakeResult: (any Sendable)?
    var handshakeDeadline: ContinuousClock.Instant?
    /// Told once whether the handshake succeeded.
    var onReady: (@Sendable (Result<Void, ConnectFailure>) -> Void)?
    /// The handshake failed: send what is queued (a refusal), then close.
    var handshakeFailure: ConnectFailure?

    /// Continuation resumptions (and other calls out) to run once the lock is released.
    var deferred: [@Sendable () -> Void] = []

    // Received messages, consumed from `inboxHead` on.
    private var inbox: [InboxItem] = []
    private var inboxHead = 0
    private(set) var inboxBytes = 0
    private var messagesEnded = false
    /// A consumer took a message and has not asked for the next one yet: it may be answering
    /// it, so a close must not overtake that answer.
    private var consumerBusy = false
    private var receivers: [(id: UInt64, continuation: CheckedContinuation<(any Sendable)?, Never>)] = []
    private var lastReceiverID: UInt64 = 0
    /// Reading is paused because the inbox is full (not because the protocol stopped reading).
    private(set) var readingPaused = false {
        didSet { if readingPaused != oldValue { pauseEpoch &+= 1 } }
    }
    /// Counts every start and end of a pause: odd while paused. A liveness probe compares it
    /// before and after its timeout to know whether its answer may sit behind unread data.
    private(set) var pauseEpoch: UInt64 = 0

    /// When a deferred close answer is sent anyway.
    private var finishClosingDeadline: ContinuousClock.Instant?
    /// When the connection is dropped if the close handshake has not completed.
    var closeDeadline: ContinuousClock.Instant?

    // Output and its accounting for backpressure.
    private var outbound = OutboundQueue()
    /// A thread is writing chunks it took out of ``outbound``; nobody else writes meanwhile.
    private(set) var writerActive = false
    /// The last write found the socket full; cleared when the loop sees it writable.
    private var writeBlocked = false
    /// A flush at the end of the loop's turn is scheduled (``queueForFlush(limit:now:)``).
    private var flushScheduled = false
    /// The last write left bytes the socket did not take, and no write since emptied the
    /// queue: the peer reads slower than this side writes (unlike ``writeBlocked``, not
    /// cleared by a writable socket, only by a write that took everything).
    private var peerBehind = false
    /// Whether ``queueForFlush(limit:now:)`` leaves a send to the loop or writes it at once.
    private var coalescing = WriteCoalescing()
    /// How many flushes were left to the loop (for tests and statistics).
    private(set) var flushesScheduled: UInt64 = 0
    /// ``finish(configuration:)`` found a writer busy: it asks the loop to finish when done.
    private var finishWaitsForWriter = false
    /// Reading stopped because more than the high-water mark waited for the socket; it
    /// resumes once output falls to the low-water mark (servers only: see
    /// ``ConnectionConfiguration/outboundLowWater``).
    private(set) var pausedForOutput = false
    /// Idle and drain timeouts, once the connection is open (when configured).
    private var activityWatch: ActivityWatch?
    /// Which of them ended the connection, if one did.
    private(set) var expiry: ActivityWatch.Expiry?
    /// Every byte received from the socket.
    private var bytesRead: UInt64 = 0
    /// Every message the codec completed, taken or not.
    private(set) var messagesReceived: UInt64 = 0
    /// Bytes a writer took out of ``outbound`` and has not reported back yet.
    private var inFlight = 0
    private var bytesQueued: UInt64 = 0
    private var bytesWritten: UInt64 = 0
    private var sendWaiters: [(id: UInt64, target: UInt64, continuation: Waiter)] = []
    private var lastSendWaiterID: UInt64 = 0

    private var probeCounter: UInt64 = 0
    private var probeWaiters: [(id: UInt64, continuation: Waiter)] = []
    private var closeWaiters: [CheckedContinuation<any Sendable, Never>] = []

    var transportError: SocketError?
    var endOfInput = false
    /// Drop the connection (an app's abort, a deadline, a failed write).
    var abortRequested = false
    /// Close with a reset (RST) rather than a FIN.
    var resetOnClose = false
    private(set) var isFinished = false
    private(set) var finalClosure: (any Sendable)?
    /// The socket is open: writers may use it. Cleared, under the lock, before it is closed.
    private(set) var socketOpen = true

    package init(codec: any StreamCodec, handshake: (any StreamHandshake)?, transport: (any SecureTransport)? = nil) {
        self.codec = codec
        self.handshake = handshake
        self.transport = transport
        if let transport { outbound.append(transport.start()) }
        if let handshake { queueOutbound(handshake.initialOutput()) }
    }

    /// Whether the transport's own handshake is still running.
    var securingTransport: Bool { !(transport?.isEstablished ?? true) }

    var isOpen: Bool { handshake == nil && handshakeFailure == nil && !isFinished && !securingTransport }
    /// Bytes queued for the socket and not yet written, those a writer holds included: the
    /// number every mark, refusal and drain target is about.
    var pendingOutputCount: Int { outbound.count + inFlight }

    /// Queues plaintext for the socket, through the transport when there is one.
    private mutating func queueOutbound(_ bytes: [UInt8]) {
        guard let transport else {
            outbound.append(bytes)
            return
        }
        if !bytes.isEmpty { bytes.withUnsafeBytes { transport.send($0) } }
        collectTransportOutput()
    }

    /// Moves what the transport has to send (handshake records, data, alerts) to the queue.
    private mutating func collectTransportOutput() {
        guard let transport else { return }
        if codec.isClosed && !transportCloseQueued {
            transportCloseQueued = true
            transport.close()
        }
        let bytes = transport.takeOutput()
        bytesQueued += UInt64(bytes.count)
        outbound.append(bytes)
    }

    /// Moves what the codec queued into the outbound queue.
    mutating func collectOutput() {
        let bytes = codec.takeOutput()
        guard transport == nil else {
            if !bytes.isEmpty { bytes.withUnsafeBytes { transport?.send($0) } }
            collectTransportOutput()
            return
        }
        bytesQueued += UInt64(bytes.count)
        outbound.append(bytes)
    }

    // MARK: Receiving

    /// Feeds received bytes through the transport (TLS), then to the handshake, then to the
    /// codec; queues what they complete.
    package mutating func process(_ bytes: UnsafeMutableRawBufferPointer, configuration: ConnectionConfiguration) {
        bytesRead &+= UInt64(bytes.count)
        guard let transport else {
            processPlaintext(bytes, configuration: configuration)
            return
        }
        let wasSecuring = securingTransport
        var plaintext = plaintextScratch
        plaintextScratch = []
        plaintext.removeAll(keepingCapacity: true)
        let status = transport.receive(UnsafeRawBufferPointer(bytes), into: &plaintext)
        collectTransportOutput()
        switch status {
        case .open:
            break
        case .closedByPeer:
            endOfInput = true
        case .failed(let error, let reply):
            if wasSecuring || handshake != nil {
                outbound.append(reply)
                handshake = nil
                handshakeDeadline = nil
                handshakeFailure = .handshake(error)
            } else {
                endOfInput = true
            }
            plaintextScratch = plaintext
            return
        }
        if wasSecuring && transport.isEstablished && handshake == nil, let onReady {
            // No protocol handshake: the connection is ready once TLS is.
            handshakeDeadline = nil
            deferred.append { onReady(.success(())) }
            self.onReady = nil
        }
        if !plaintext.isEmpty || !wasSecuring {
            plaintext.withUnsafeMutableBytes { processPlaintext($0, configuration: configuration) }
        }
        plaintextScratch = plaintext
    }

    private mutating func processPlaintext(_ bytes: UnsafeMutableRawBufferPointer, configuration: ConnectionConfiguration) {
        guard handshake != nil else {
            receiveOpen(bytes, configuration: configuration)
            return
        }
        switch handshake!.receive(UnsafeRawBufferPointer(bytes)) {
        case .needMore:
            return
        case .failed(let reply, let error):
            handshake = nil
            handshakeDeadline = nil
            queueOutbound(reply)
            handshakeFailure = .handshake(error)
        case .complete(let reply, var leftover, let result):
            handshake = nil
            handshakeResult = result
            handshakeDeadline = nil
            codec.handshakeCompleted(result)
            queueOutbound(reply)
            if let onReady {
                deferred.append { onReady(.success(())) }
                self.onReady = nil
            }
            if !leftover.isEmpty {
                leftover.withUnsafeMutableBytes { receiveOpen($0, configuration: configuration) }
            }
        }
    }

    private mutating func receiveOpen(_ bytes: UnsafeMutableRawBufferPointer, configuration: ConnectionConfiguration) {
        var events: [CodecEvent] = []
        codec.receive(bytes, into: &events)
        for event in events {
            switch event {
            case .message(let message, let size):
                inboxBytes += size
                messagesReceived &+= 1
                inbox.append(.message(message, size))
            case .probeAnswered(let id):
                probeWaiters.removeAll { waiter in
                    guard waiter.id <= id else { return false }
                    deferred.append { waiter.continuation.resume(returning: .success(())) }
                    return true
                }
            case .inputEnded:
                inbox.append(.end(finishClosing: true))
            }
        }
        collectOutput()
        deliverToWaitingReceivers(configuration: configuration)
        scheduleFinishClosing(configuration: configuration)
    }

    /// Takes the next inbox item for a consumer. Sets `wake` when the loop has work because of
    /// it (reading resumes, a close answer to write).
    mutating func takeNext(configuration: ConnectionConfiguration, wake: inout Bool) -> Take {
        consumerBusy = false
        if inboxHead < inbox.count {
            let item = inbox[inboxHead]
            inboxHead += 1
            compactInbox()
            switch item {
            case .message(let message, let size):
                inboxBytes -= size
                if readingPaused && !pausedForOutput && inboxBytes < configuration.inboundBufferLimit { wake = true }
                consumerBusy = true
                return .message(message)
            case .end(let finishClosing):
                messagesEnded = true
                if finishClosing {
                    finishClosingNow()
                    wake = true
                }
                return .end
            }
        }
        if messagesEnded || isFinished { return .end }
        return .empty
    }

    /// Batches taken in a row without waiting after which a consumer yields its thread once.
    static let batchesBeforeYield = 4
    /// Batches taken in a row without waiting (reset whenever the consumer has to wait).
    private var batchesWithoutWait = 0

    /// Counts a consumer's batch: true when messages wait and this is the
    /// ``batchesBeforeYield``-th batch in a row that needs no wait (the consumer yields, then
    /// takes them); false when it should take (or wait) at once.
    mutating func stepsAsideBeforeTaking() -> Bool {
        guard inboxHead < inbox.count, case .message = inbox[inboxHead] else {
            batchesWithoutWait = 0
            return false
        }
        batchesWithoutWait += 1
        guard batchesWithoutWait >= Self.batchesBeforeYield else { return false }
        batchesWithoutWait = 0
        return true
    }

    /// A consumer took messages with ``takeQueuedMessages(limit:configuration:wake:)`` first:
    /// like ``takeNext(configuration:wake:)``, it may be answering them, so a close waits.
    mutating func consumerTookMessage() {
        consumerBusy = true
    }

    /// Takes up to `limit` messages that are already queued, without waiting, stopping at the
    /// end marker (left for the next ``takeNext(configuration:wake:)``).
    package mutating func takeQueuedMessages(limit: Int, configuration: ConnectionConfiguration, wake: inout Bool) -> [any Sendable] {
        var messages: [any Sendable] = []
        while messages.count < limit, inboxHead < inbox.count, case .message(let message, let size) = inbox[inboxHead] {
            inboxHead += 1
            inboxBytes -= size
            messages.append(message)
        }
        compactInbox()
        if readingPaused && !pausedForOutput && inboxBytes < configuration.inboundBufferLimit && !messages.isEmpty { wake = true }
        return messages
    }

    private mutating func compactInbox() {
        if inboxHead == inbox.count {
            inbox.removeAll(keepingCapacity: true)
            inboxHead = 0
        } else if inboxHead >= 1024 && inboxHead * 2 >= inbox.count {
            inbox.removeFirst(inboxHead)
            inboxHead = 0
        }
    }

    /// An id for a consumer about to wait (for its cancellation).
    mutating func reserveReceiverID() -> UInt64 {
        lastReceiverID += 1
        return lastReceiverID
    }

    /// Registers a consumer waiting for a message under its reserved id.
    mutating func addReceiver(_ id: UInt64, _ continuation: CheckedContinuation<(any Sendable)?, Never>) {
        receivers.append((id, continuation))
    }

    /// A waiting consumer was cancelled: it gets nil.
    mutating func cancelReceiver(id: UInt64) {
        guard let index = receivers.firstIndex(where: { $0.id == id }) else { return }
        let continuation = receivers.remove(at: index).continuation
        deferred.append { continuation.resume(returning: nil) }
    }

    /// Hands inbox items to consumers already waiting, in order.
    mutating func deliverToWaitingReceivers(configuration: ConnectionConfiguration) {
        var wake = false
        while !receivers.isEmpty {
            let next: (any Sendable)?
            switch takeNext(configuration: configuration, wake: &wake) {
            case .empty: return
            case .message(let message): next = message
            case .end: next = nil
            }
            let receiver = receivers.removeFirst()
            deferred.append { receiver.continuation.resume(returning: next) }
            if next == nil {
                for other in receivers { deferred.append { other.continuation.resume(returning: nil) } }
                receivers.removeAll()
            }
        }
    }

    /// After a read: a pending close answer goes out now if no message precedes it in the
    /// inbox and no consumer is busy with one; otherwise when the consumer reaches it, at most
    /// `closeTimeout` later.
    private mutating func scheduleFinishClosing(configuration: ConnectionConfiguration) {
        guard codec.needsFinishClosing, finishClosingDeadline == nil else { return }
        let messagePending = inbox[inboxHead...].contains { if case .message = $0 { true } else { false } }
        if !messagePending && !consumerBusy {
            finishClosingNow()
        } else {
            finishClosingDeadline = .now + configuration.closeTimeout
        }
    }

    /// Queues the deferred close answer and turns the inbox's end marker into a plain end.
    private mutating func finishClosingNow() {
        finishClosingDeadline = nil
        guard codec.needsFinishClosing else { return }
        codec.finishClosing()
        collectOutput()
        for index in inboxHead..<inbox.count {
            if case .end(true) = inbox[index] { inbox[index] = .end(finishClosing: false) }
        }
    }

    // MARK: Sending

    /// Queues `message` on the codec. Returns the byte count a sender must wait to see
    /// written (backpressure: more than `highWater` bytes queued), or nil.
    /// - Throws: ``ConnectionError/closed`` before the handshake completed or once the
    ///   connection ended; what the codec throws.
    /// - Parameter refuseAbove: refuse (``ConnectionError/outboundFull``, nothing queued) while
    ///   more than this many bytes wait; nil queues whatever waits.
    /// - Parameter replan: set when this message took a server's output past the high-water
    ///   mark: reading pauses, and the loop must plan again to stop watching for input.
    /// - Parameter onlyWhenPeerBehind: refuse past `refuseAbove` only while the peer is behind
    ///   (the last write left bytes the socket did not take, and none since emptied the queue),
    ///   or past the high-water mark: bytes that wait because this process's own writer has
    ///   not run yet (a loop's flush, a preempted writer) are not the peer's backlog
    ///   (``StreamConnection/sendSoon(_:refusingAbove:)``).
    mutating func queue(_ message: any Sendable, configuration: ConnectionConfiguration, refuseAbove: Int?,
                        onlyWhenPeerBehind: Bool = false, replan: inout Bool) throws(ConnectionError) -> UInt64? {
        guard isOpen else { throw .closed }
        if let transportError { throw .transportFailed(transportError) }
        if let refuseAbove, pendingOutputCount > refuseAbove,
           !onlyWhenPeerBehind || peerBehind || pendingOutputCount > configuration.outboundHighWater {
            throw .outboundFull
        }
        try codec.send(message)
        collectOutput()
        let highWater = configuration.outboundHighWater
        if configuration.outboundLowWater != nil && !pausedForOutput && pendingOutputCount > highWater {
            pausedForOutput = true
            replan = true
        }
        return pendingOutputCount > highWater ? bytesQueued - UInt64(highWater) : nil
    }

    /// The byte count a sender must see written for the queued output to be at most `limit`
    /// bytes; nil when it is already.
    func drainTarget(below limit: Int) -> UInt64? {
        pendingOutputCount > limit ? bytesQueued - UInt64(limit) : nil
    }

    /// Registers a sender waiting for the output to drain down to `target` bytes written.
    /// - Parameters:
    ///   - id: The waiter's id from ``reserveSendWaiterID()``, for its cancellation.
    ///   - cancelled: The waiting task was cancelled before it got here: it gets
    ///     ``ConnectionError/cancelled`` at once.
    mutating func waitForDrain(to target: UInt64, id: UInt64, cancelled: Bool, _ continuation: Waiter) {
        if bytesWritten >= target {
            deferred.append { continuation.resume(returning: .success(())) }
        } else if isFinished {
            deferred.append { continuation.resume(returning: .failure(.closed)) }
        } else if cancelled {
            deferred.append { continuation.resume(returning: .failure(.cancelled)) }
        } else {
            sendWaiters.append((id, target, continuation))
        }
    }

    /// How many senders wait for the output to drain.
    var waitingSenderCount: Int { sendWaiters.count }

    /// An id for a sender about to wait for the output to drain.
    mutating func reserveSendWaiterID() -> UInt64 {
        lastSendWaiterID += 1
        return lastSendWaiterID
    }

    /// A sender waiting for the output to drain was cancelled: it gets
    /// ``ConnectionError/cancelled`` (what it sent stays queued and goes out).
    mutating func cancelSendWaiter(id: UInt64) {
        guard let index = sendWaiters.firstIndex(where: { $0.id == id }) else { return }
        let continuation = sendWaiters.remove(at: index).continuation
        deferred.append { continuation.resume(returning: .failure(.cancelled)) }
    }

    /// Queues a probe and registers its waiter.
    mutating func sendProbe(_ continuation: Waiter) {
        guard isOpen else {
            deferred.append { continuation.resume(returning: .failure(.closed)) }
            return
        }
        probeCounter += 1
        guard codec.sendProbe(id: probeCounter) else {
            deferred.append { continuation.resume(returning: .failure(.probeUnsupported)) }
            return
        }
        collectOutput()
        probeWaiters.append((probeCounter, continuation))
    }

    /// Hands the queued chunks to a writer, unless another thread is writing, the socket is
    /// gone, or nothing is queued. The writer must call
    /// ``finishWriting(remaining:written:error:spent:configuration:)``.
    mutating func takeForWriting(socketWritable: Bool = false) -> OutboundChunks? {
        if socketWritable { writeBlocked = false }
        // While the socket is known to be full, senders only queue: the loop writes once it
        // reports the socket writable (no failing `send` per message).
        guard socketOpen, !writerActive, !writeBlocked, transportError == nil, !outbound.isEmpty else { return nil }
        writerActive = true
        inFlight = outbound.count
        return outbound.takeAll()
    }

    /// After queueing a message that may wait for the loop's flush: returns chunks to write
    /// at once (the send is not part of a long burst, see ``WriteCoalescing``; or more than
    /// `limit` bytes wait unwritten: the sender writes, and so paces itself), or whether the
    /// caller must schedule the flush (none is scheduled, and neither a writer nor the loop's
    /// writability watch will pick the bytes up).
    mutating func queueForFlush(limit: Int, now: ContinuousClock.Instant) -> (chunks: OutboundChunks?, scheduleFlush: Bool) {
        let defers = coalescing.defersSend(at: now)
        guard defers || flushScheduled, outbound.count <= limit else { return (takeForWriting(), false) }
        guard !flushScheduled, !writerActive, !writeBlocked, socketOpen else { return (nil, false) }
        flushScheduled = true
        flushesScheduled &+= 1
        return (nil, true)
    }

    /// The loop's scheduled flush runs: takes what is queued for writing.
    mutating func takeForScheduledFlush() -> OutboundChunks? {
        flushScheduled = false
        return takeForWriting()
    }

    /// The loop's flush found more queued after its write: true when the caller must
    /// schedule another flush for the next turn (none is scheduled yet).
    mutating func rescheduleFlush() -> Bool {
        guard !flushScheduled, socketOpen, !outbound.isEmpty else { return false }
        flushScheduled = true
        flushesScheduled &+= 1
        return true
    }

    /// Bytes waiting for the socket, and in how many chunks (for tests).
    var outboundShape: (bytes: Int, chunks: Int) { (outbound.count, outbound.chunkCount) }

    /// A writer is back: puts back what the socket did not take and wakes senders whose bytes
    /// are out. Returns whether there is more to write right away, and whether the loop must
    /// look at the connection (a finish waited for this writer).
    mutating func finishWriting(remaining: OutboundChunks?, written: Int, error: SocketError?,
                                spent: consuming [UInt8]?, configuration: ConnectionConfiguration) -> (again: Bool, finishWaiting: Bool) {
        writerActive = false
        writeBlocked = remaining != nil
        if remaining != nil {
            peerBehind = true
        } else if error == nil && outbound.isEmpty {
            peerBehind = false
        }
        // A buffer written whole goes back to the codec: its next message reuses the memory.
        if var spent { codec.reclaimOutputBuffer(&spent) }
        inFlight = 0
        outbound.putBack(remaining)
        // Output fell to the low-water mark: the loop must plan again to read.
        let resumeReading = pausedForOutput && pendingOutputCount <= min(configuration.outboundLowWater ?? 0, configuration.outboundHighWater)
        let finishWaiting = finishWaitsForWriter || resumeReading
        finishWaitsForWriter = false
        bytesWritten += UInt64(written)
        if !sendWaiters.isEmpty {
            sendWaiters.removeAll { waiter in
                guard bytesWritten >= waiter.target else { return false }
                deferred.append { waiter.continuation.resume(returning: .success(())) }
                return true
            }
        }
        if let error {
            transportError = error
            return (false, finishWaiting)
        }
        return (remaining == nil && !outbound.isEmpty && socketOpen, finishWaiting)
    }

    // MARK: Loop

    /// Decides what the loop does with the socket next.
    mutating func plan(configuration: ConnectionConfiguration) -> Plan {
        if abortRequested || transportError != nil || endOfInput || isFinished { return .finish }
        let write = !outbound.isEmpty && !writerActive
        var read: Bool
        if handshakeFailure != nil {
            if outbound.isEmpty && !writerActive { return .finish }
            read = false
        } else if handshake != nil || securingTransport {
            read = true
        } else if codec.isClosed {
            // Closed: flush the last frames; then the side that closes first closes TCP, the
            // other waits for it (RFC 6455 section 7.1.1), both within closeTimeout.
            if closeDeadline == nil { closeDeadline = .now + configuration.closeTimeout }
            if outbound.isEmpty && !writerActive && codec.closesTransportFirst { return .finish }
            read = outbound.isEmpty
        } else {
            if let lowWater = configuration.outboundLowWater.map({ min($0, configuration.outboundHighWater) }) {
                if pendingOutputCount > configuration.outboundHighWater {
                    pausedForOutput = true
                } else if pendingOutputCount <= lowWater {
                    pausedForOutput = false
                }
            }
            read = codec.isReading && inboxBytes < configuration.inboundBufferLimit && !pausedForOutput
        }
        readingPaused = handshake == nil && !codec.isClosed && codec.isReading && !read
        var interest: PollEvents = []
        if read { interest.insert(.readable) }
        if write { interest.insert(.writable) }
        if activityWatch == nil && isOpen && (configuration.idleTimeout != nil || configuration.drainTimeout != nil) {
            activityWatch = ActivityWatch(idleTimeout: configuration.idleTimeout, drainTimeout: configuration.drainTimeout, now: .now)
        }
        let deadline = [handshakeDeadline, finishClosingDeadline, closeDeadline, activityWatch?.nextCheck].compactMap { $0 }.min()
        return .watch(interest, deadline: deadline)
    }

    /// Applies deadlines that have passed.
    /// - Parameters:
    ///   - now: the time to judge by; nil reads the clock (only when a deadline is set).
    ///   - activity: whether to look at the idle and drain timeouts too. The loop's timer does;
    ///     the read path does not (a read is activity, and a clock read per read would cost
    ///     every busy connection for a check due every few seconds).
    mutating func checkDeadlines(now given: ContinuousClock.Instant? = nil, activity: Bool = true) {
        let watching = activity && activityWatch != nil
        guard handshakeDeadline != nil || finishClosingDeadline != nil || closeDeadline != nil || watching else { return }
        let now = given ?? .now
        if watching, var watch = activityWatch, now >= watch.nextCheck {
            let expired = watch.check(bytesRead: bytesRead, bytesWritten: bytesWritten, outputWaiting: !outbound.isEmpty || writerActive, now: now)
            activityWatch = watch
            if let expired, !isFinished {
                expiry = expired
                activityWatch = nil
                abortRequested = true
                // A peer that stopped reading gets a reset: a FIN would wait behind its output.
                if expired == .drain { resetOnClose = true }
            }
        }
        if let deadline = handshakeDeadline, now >= deadline {
            handshakeDeadline = nil
            handshakeFailure = .timedOut
            abortRequested = true
        }
        if let deadline = finishClosingDeadline, now >= deadline {
            finishClosingNow()
        }
        if let deadline = closeDeadline, now >= deadline {
            abortRequested = true
            if !codec.isClosed { resetOnClose = true }
        }
    }

    /// Ends everything: messages, senders, probes, close waiters, the ready callback. Returns
    /// false (and changes nothing) while a writer still uses the socket; the writer comes back
    /// through the loop. On true the caller closes the socket (with a reset if
    /// ``resetOnClose``).
    mutating func finish(configuration: ConnectionConfiguration) -> Bool {
        guard !isFinished else { return false }
        guard !writerActive else {
            finishWaitsForWriter = true
            return false
        }
        socketOpen = false
        isFinished = true
        outbound.removeAll()
        let closure = codec.transportClosed()
        finalClosure = closure
        if let onReady {
            let failure = handshakeFailure ?? transportError.map(ConnectFailure.socket) ?? .closedDuringHandshake
            deferred.append { onReady(.failure(failure)) }
            self.onReady = nil
        }
        let hasEnd = inbox[inboxHead...].contains { if case .end = $0 { true } else { false } }
        if !hasEnd && !messagesEnded { inbox.append(.end(finishClosing: false)) }
        deliverToWaitingReceivers(configuration: configuration)
        for waiter in sendWaiters { deferred.append { waiter.continuation.resume(returning: .failure(.closed)) } }
        sendWaiters.removeAll()
        for waiter in probeWaiters { deferred.append { waiter.continuation.resume(returning: .failure(.closed)) } }
        probeWaiters.removeAll()
        for waiter in closeWaiters { deferred.append { waiter.resume(returning: closure) } }
        closeWaiters.removeAll()
        return true
    }

    /// Registers a task waiting for the end.
    mutating func waitForClosure(_ continuation: CheckedContinuation<any Sendable, Never>) {
        if let finalClosure {
            deferred.append { continuation.resume(returning: finalClosure) }
        } else {
            closeWaiters.append(continuation)
        }
    }
}
