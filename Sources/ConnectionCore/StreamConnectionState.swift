import TCPTransport

/// Everything a ``StreamConnection`` shares between the loop thread and the tasks that send
/// and receive; always used under the connection's lock, never calling out from there.
///
/// Three parts: the ``StreamLifecycle`` (handshaking -> open -> closing -> finished: what the
/// connection may do at all), the ``StreamInbox`` (received messages and the consumers
/// waiting for them) and the ``StreamOutbox`` (bytes for the socket, its writer, and the
/// senders waiting); and the codec (with TLS, when used) between bytes and messages. The loop
/// asks ``plan(configuration:)`` what to watch the socket for; everything else is an event
/// fed in (bytes read, a message to send, a writer back, a deadline passed).
///
/// Continuations are never resumed under the lock (resuming takes the waiting task's status
/// lock, which `Task.cancel()` holds while it runs a cancellation handler that takes ours):
/// resumptions are queued in ``deferred`` and run by the owner after unlocking. Socket writes
/// are made outside the lock too (see ``takeForWriting(socketWritable:)``).
package struct StreamConnectionState: Sendable {
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

    typealias Waiter = StreamOutbox.Waiter

    /// Where the connection is in its life; changed only through its `advance(to:)`.
    private(set) var lifecycle: StreamLifecycle
    var codec: any StreamCodec
    /// TLS between the socket and the handshake and codec, when the connection uses it:
    /// everything received is decrypted first, everything queued is encrypted.
    let transport: (any SecureTransport)?
    /// The codec closed and the transport's close notification was queued.
    private var transportCloseQueued = false
    /// Reused for decrypted bytes.
    private var plaintextScratch: [UInt8] = []
    /// What the completed handshake learned.
    private(set) var handshakeResult: (any Sendable)?
    /// Told once whether the handshake succeeded (set by the connection's `start`).
    var onReady: (@Sendable (Result<Void, ConnectFailure>) -> Void)?

    /// Continuation resumptions (and other calls out) to run once the lock is released.
    var deferred: [@Sendable () -> Void] = []

    private var inbox = StreamInbox()
    private var outbox = StreamOutbox()

    /// Reading is paused because the inbox is full (not because the protocol stopped reading).
    private(set) var readingPaused = false {
        didSet { if readingPaused != oldValue { pauseEpoch &+= 1 } }
    }
    /// Counts every start and end of a pause: odd while paused. A liveness probe compares it
    /// before and after its timeout to know whether its answer may sit behind unread data.
    private(set) var pauseEpoch: UInt64 = 0
    /// Reading stopped because more than the high-water mark waited for the socket; it
    /// resumes once output falls to the low-water mark (servers only: see
    /// ``ConnectionConfiguration/outboundLowWater``).
    private(set) var pausedForOutput = false
    /// ``finish(configuration:)`` found a writer busy: it asks the loop to finish when done.
    private var finishWaitsForWriter = false

    /// When a deferred close answer is sent anyway.
    private var finishClosingDeadline: ContinuousClock.Instant?
    /// Idle and drain timeouts, once the connection is open (when configured).
    private var activityWatch: ActivityWatch?
    /// Which of them ended the connection, if one did.
    private(set) var expiry: ActivityWatch.Expiry?
    /// Every byte received from the socket.
    private var bytesRead: UInt64 = 0
    /// The socket failed (a write, a read, the loop out of descriptors): what senders are told.
    private(set) var transportError: SocketError?

    private var probeCounter: UInt64 = 0
    private var probeWaiters: [(id: UInt64, continuation: Waiter)] = []
    private var closeWaiters: [CheckedContinuation<any Sendable, Never>] = []

    package init(codec: any StreamCodec, handshake: (any StreamHandshake)?, transport: (any SecureTransport)? = nil) {
        self.codec = codec
        self.transport = transport
        lifecycle = handshake == nil && transport == nil
            ? .open(.init(closeDeadline: nil))
            : .handshaking(.init(handshake: handshake, deadline: nil))
        if let transport { outbox.append(transport.start(), counted: false) }
        if let handshake { queueHandshakeOutput(handshake.initialOutput()) }
    }

    /// Whether the transport's own handshake is still running.
    var securingTransport: Bool { !(transport?.isEstablished ?? true) }

    /// Whether messages may be queued (see ``StreamLifecycle/acceptsMessages``).
    var isOpen: Bool { lifecycle.acceptsMessages }
    /// Whether the connection has ended.
    var isFinished: Bool { lifecycle.isFinished }
    /// How the connection ended; nil until it has.
    var finalClosure: (any Sendable)? {
        if case .finished(let closure) = lifecycle { closure } else { nil }
    }
    /// Whether the handshake (TLS or the protocol's) still runs.
    var isHandshaking: Bool {
        if case .handshaking = lifecycle { true } else { false }
    }
    /// Bytes queued for the socket and not yet written, those a writer holds included.
    var pendingOutputCount: Int { outbox.pendingCount }
    /// Bytes of received messages waiting for the consumer.
    var inboxBytes: Int { inbox.bytes }
    /// Every message the codec completed, taken or not.
    var messagesReceived: UInt64 { inbox.messagesReceived }
    /// How many flushes were left to the loop (for tests and statistics).
    var flushesScheduled: UInt64 { outbox.flushesScheduled }
    /// Whether the socket may still be written: cleared, under the lock, before it is closed.
    private var socketUsable: Bool { !isFinished && transportError == nil }

    // MARK: Lifecycle events

    /// Sets when the handshake fails as timed out (called once, by the connection's `start`);
    /// without a handshake running there is nothing to time out.
    mutating func setHandshakeDeadline(_ deadline: ContinuousClock.Instant?) {
        guard case .handshaking(var handshaking) = lifecycle else { return }
        handshaking.deadline = deadline
        lifecycle.advance(to: .handshaking(handshaking))
    }

    /// The connection's `start` runs on its loop: a handshake begins (TLS and the client's
    /// request are already queued; an empty read lets TLS produce its first record); without
    /// one, `onReady` is told the connection is ready. Once the connection is closing (the
    /// opener gave up, an abort) nothing happens: its finish tells `onReady` why; if it has
    /// finished already, `onReady` is told here that it closed during the handshake.
    mutating func started(configuration: ConnectionConfiguration) {
        switch lifecycle {
        case .handshaking:
            var empty: [UInt8] = []
            empty.withUnsafeMutableBytes { process($0, configuration: configuration) }
        case .open:
            if let onReady {
                self.onReady = nil
                deferred.append { onReady(.success(())) }
            }
        case .closing:
            break
        case .finished:
            if let onReady {
                self.onReady = nil
                deferred.append { onReady(.failure(.closedDuringHandshake)) }
            }
        }
    }

    /// The handshake completed (TLS and the protocol's): the connection opens and `onReady`
    /// is told.
    private mutating func handshakeCompleted() {
        lifecycle.advance(to: .open(.init(closeDeadline: nil)))
        if let onReady {
            deferred.append { onReady(.success(())) }
            self.onReady = nil
        }
    }

    /// The connection ends for `cause` from the handshake (a refusal to write, or a drop);
    /// `failure` is what `onReady` will be told.
    private mutating func handshakeFailed(_ failure: ConnectFailure, cause: StreamLifecycle.Closing.Cause) {
        lifecycle.advance(to: .closing(.init(cause: cause, handshakeCompleted: false, handshakeFailure: failure, deadline: nil)))
    }

    /// Drops the connection: the loop finishes it at its next look (with a TCP reset when
    /// `reset`, or when an earlier drop asked for one). Nothing once it has finished.
    mutating func drop(reset: Bool) {
        switch lifecycle {
        case .finished:
            return
        case .handshaking:
            lifecycle.advance(to: .closing(.init(cause: .dropped(reset: reset), handshakeCompleted: false,
                                                 handshakeFailure: nil, deadline: nil)))
        case .open(let open):
            lifecycle.advance(to: .closing(.init(cause: .dropped(reset: reset), handshakeCompleted: true,
                                                 handshakeFailure: nil, deadline: open.closeDeadline)))
        case .closing(var closing):
            if case .dropped(true) = closing.cause { return }
            closing.cause = .dropped(reset: reset)
            lifecycle.advance(to: .closing(closing))
        }
    }

    /// The peer ended its input (EOF, or TLS's close notification): the connection ends.
    mutating func inputEnded() {
        drop(reset: false)
    }

    /// The socket failed: senders get `error`, and the connection ends.
    mutating func transportFailed(_ error: SocketError) {
        transportError = error
        drop(reset: false)
    }

    /// The opener gave up on a handshake still running (or whose refusal is being written):
    /// `onReady` is told `failure`, and the connection ends.
    mutating func failHandshake(_ failure: ConnectFailure) {
        switch lifecycle {
        case .handshaking:
            handshakeFailed(failure, cause: .dropped(reset: false))
        case .closing(let closing) where onReady != nil && !closing.handshakeCompleted:
            let cause: StreamLifecycle.Closing.Cause = if case .dropped = closing.cause { closing.cause } else { .dropped(reset: false) }
            lifecycle.advance(to: .closing(.init(cause: cause, handshakeCompleted: false,
                                                 handshakeFailure: failure, deadline: closing.deadline)))
        default:
            return
        }
    }

    /// Starts this side's close as the codec's `request` describes it; the close must be done
    /// by `configuration.closeTimeout` from now (a deadline already set stays). Before the
    /// handshake completed the connection is dropped instead.
    mutating func startClosing(_ request: any Sendable, configuration: ConnectionConfiguration) {
        guard isOpen else {
            drop(reset: false)
            return
        }
        codec.startClose(request)
        collectOutput()
        switch lifecycle {
        case .open(var open):
            if open.closeDeadline == nil { open.closeDeadline = .now + configuration.closeTimeout }
            lifecycle.advance(to: .open(open))
        case .closing(var closing):
            if closing.deadline == nil { closing.deadline = .now + configuration.closeTimeout }
            lifecycle.advance(to: .closing(closing))
        case .handshaking, .finished:
            break
        }
    }

    // MARK: Output from the handshake, the codec and TLS

    /// Queues the handshake's own bytes (a request, a reply), through TLS when there is one.
    private mutating func queueHandshakeOutput(_ bytes: [UInt8]) {
        guard let transport else {
            outbox.append(bytes, counted: false)
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
        outbox.append(transport.takeOutput())
    }

    /// Moves what the codec queued into the outbound queue.
    mutating func collectOutput() {
        let bytes = codec.takeOutput()
        guard let transport else {
            outbox.append(bytes)
            return
        }
        if !bytes.isEmpty { bytes.withUnsafeBytes { transport.send($0) } }
        collectTransportOutput()
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
            inputEnded()
        case .failed(let error, let reply):
            if case .handshaking = lifecycle {
                outbox.append(reply, counted: false)
                handshakeFailed(.handshake(error), cause: .refused)
            } else {
                inputEnded()
            }
            plaintextScratch = plaintext
            return
        }
        if wasSecuring && transport.isEstablished, case .handshaking(let handshaking) = lifecycle, handshaking.handshake == nil {
            // No protocol handshake: the connection is ready once TLS is.
            handshakeCompleted()
        }
        if !plaintext.isEmpty || !wasSecuring {
            plaintext.withUnsafeMutableBytes { processPlaintext($0, configuration: configuration) }
        }
        plaintextScratch = plaintext
    }

    private mutating func processPlaintext(_ bytes: UnsafeMutableRawBufferPointer, configuration: ConnectionConfiguration) {
        switch lifecycle {
        case .open:
            receiveOpen(bytes, configuration: configuration)
        case .closing(let closing):
            // The rest of a close handshake (the peer's close frame) after an open.
            if closing.handshakeCompleted { receiveOpen(bytes, configuration: configuration) }
        case .handshaking:
            runHandshake(bytes, configuration: configuration)
        case .finished:
            break
        }
    }

    /// Feeds the protocol's handshake; once it completes, what follows it goes to the codec.
    private mutating func runHandshake(_ bytes: UnsafeMutableRawBufferPointer, configuration: ConnectionConfiguration) {
        guard case .handshaking(var handshaking) = lifecycle, var handshake = handshaking.handshake else { return }
        // The enum lets go of it first, so the handshake's buffers are changed in place, not
        // copied on every read.
        handshaking.handshake = nil
        lifecycle.advance(to: .handshaking(handshaking))
        let progress = handshake.receive(UnsafeRawBufferPointer(bytes))
        switch progress {
        case .needMore:
            handshaking.handshake = handshake
            lifecycle.advance(to: .handshaking(handshaking))
        case .failed(let reply, let error):
            queueHandshakeOutput(reply)
            handshakeFailed(.handshake(error), cause: .refused)
        case .complete(let reply, var leftover, let result):
            handshakeResult = result
            codec.handshakeCompleted(result)
            queueHandshakeOutput(reply)
            handshakeCompleted()
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
                inbox.append(message: message, size: size)
            case .probeAnswered(let id):
                probeWaiters.removeAll { waiter in
                    guard waiter.id <= id else { return false }
                    deferred.append { waiter.continuation.resume(returning: .success(())) }
                    return true
                }
            case .inputEnded:
                inbox.appendEnd(finishClosing: true)
            case .failed(let error):
                // A failure takes no buffer space; the codec answers it (a close frame) once
                // the consumer reaches it, as it answers a close.
                inbox.append(message: CodecFailure(error: error), size: 0)
                inbox.appendEnd(finishClosing: true)
            }
        }
        collectOutput()
        deliverToWaitingReceivers(configuration: configuration)
        scheduleFinishClosing(configuration: configuration)
    }

    /// Whether taking messages out of the inbox lets a paused reader go on.
    private func readerMayResume(configuration: ConnectionConfiguration) -> Bool {
        readingPaused && !pausedForOutput && inbox.bytes < configuration.inboundBufferLimit
    }

    /// Takes the next inbox item for a consumer. Sets `wake` when the loop has work because of
    /// it (reading resumes, a close answer to write).
    mutating func takeNext(configuration: ConnectionConfiguration, wake: inout Bool) -> Take {
        inbox.consumerBusy = false
        switch inbox.popFirst() {
        case .message(let message, _):
            if readerMayResume(configuration: configuration) { wake = true }
            inbox.consumerBusy = true
            return .message(message)
        case .end(let finishClosing):
            if finishClosing {
                finishClosingNow()
                wake = true
            }
            return .end
        case nil:
            return inbox.ended || isFinished ? .end : .empty
        }
    }

    /// Counts a consumer's batch (see ``StreamInbox/stepsAsideBeforeTaking()``).
    mutating func stepsAsideBeforeTaking() -> Bool {
        inbox.stepsAsideBeforeTaking()
    }

    /// A consumer took messages with ``takeQueuedMessages(limit:configuration:wake:)`` first:
    /// like ``takeNext(configuration:wake:)``, it may be answering them, so a close waits.
    mutating func consumerTookMessage() {
        inbox.consumerBusy = true
    }

    /// Takes up to `limit` messages that are already queued, without waiting, stopping at the
    /// end marker (left for the next ``takeNext(configuration:wake:)``).
    package mutating func takeQueuedMessages(limit: Int, configuration: ConnectionConfiguration, wake: inout Bool) -> [any Sendable] {
        let messages = inbox.popMessages(limit: limit)
        if !messages.isEmpty && readerMayResume(configuration: configuration) { wake = true }
        return messages
    }

    /// An id for a consumer about to wait (for its cancellation).
    mutating func reserveReceiverID() -> UInt64 {
        inbox.reserveReceiverID()
    }

    /// Registers a consumer waiting for a message under its reserved id.
    mutating func addReceiver(_ id: UInt64, _ continuation: StreamInbox.Receiver) {
        inbox.addReceiver(id, continuation)
    }

    /// A waiting consumer was cancelled: it gets nil.
    mutating func cancelReceiver(id: UInt64) {
        guard let continuation = inbox.removeReceiver(id: id) else { return }
        deferred.append { continuation.resume(returning: nil) }
    }

    /// Hands inbox items to consumers already waiting, in order. An idle inline receiver is
    /// handed nothing here (the loop offers it messages after a read): once the end is queued
    /// its task is resumed to take the rest and the end itself.
    mutating func deliverToWaitingReceivers(configuration: ConnectionConfiguration) {
        if let receiver = inbox.inlineReceiver, !receiver.running, inbox.hasEndQueued {
            inbox.inlineReceiver = nil
            deferred.append { receiver.waiter.resume(returning: []) }
        }
        var wake = false
        while inbox.hasReceivers {
            let next: (any Sendable)?
            switch takeNext(configuration: configuration, wake: &wake) {
            case .empty: return
            case .message(let message): next = message
            case .end: next = nil
            }
            let receiver = inbox.removeFirstReceiver()
            deferred.append { receiver.resume(returning: next) }
            if next == nil {
                for other in inbox.removeAllReceivers() { deferred.append { other.resume(returning: nil) } }
            }
        }
    }

    // MARK: Inline receiver

    /// Installs `receiver` (see ``InlineReceiver``) unless its task has something to take at
    /// once: queued messages (up to its limit, handed to the task), the end or a cancellation
    /// (nil).
    mutating func installInline(_ receiver: InlineReceiver, isCancelled: Bool, configuration: ConnectionConfiguration,
                                wake: inout Bool) {
        precondition(inbox.inlineReceiver == nil, "one task at a time installs an inline receiver")
        let waiter = receiver.waiter
        guard !isCancelled else {
            deferred.append { waiter.resume(returning: nil) }
            return
        }
        let messages = takeQueuedMessages(limit: receiver.limit, configuration: configuration, wake: &wake)
        guard messages.isEmpty else {
            consumerTookMessage()
            deferred.append { waiter.resume(returning: messages) }
            return
        }
        switch takeNext(configuration: configuration, wake: &wake) {
        case .end:
            deferred.append { waiter.resume(returning: nil) }
        case .message:
            preconditionFailure("Internal inconsistency: a message was queued, yet not taken with the queued ones")
        case .empty:
            inbox.inlineReceiver = receiver
        }
    }

    /// Whether an inline receiver is installed.
    var hasInlineReceiver: Bool { inbox.inlineReceiver != nil }

    /// Whether the installed inline receiver is idle and a message waits for it: the loop
    /// then calls ``takeInlineBatch(configuration:)``.
    var inlineBatchReady: Bool {
        guard let receiver = inbox.inlineReceiver, !receiver.running else { return false }
        return inbox.nextIsMessage
    }

    /// On the loop thread: the queued messages (up to the receiver's limit) and the handler to
    /// give them to, outside the lock; the receiver counts as running until
    /// ``finishInlineBatch(_:taken:)``.
    mutating func takeInlineBatch(configuration: ConnectionConfiguration) -> (InlineReceiver.Handler, [any Sendable])? {
        guard var receiver = inbox.inlineReceiver, !receiver.running, inbox.nextIsMessage else { return nil }
        var wake = false  // the loop plans afresh after handing messages over
        let messages = takeQueuedMessages(limit: receiver.limit, configuration: configuration, wake: &wake)
        consumerTookMessage()
        receiver.running = true
        inbox.inlineReceiver = receiver
        return (receiver.handler, messages)
    }

    /// The handler took the first `taken` messages of `batch`. Returns whether the receiver
    /// stays installed; it does not (its task is resumed) when it handed messages back, was
    /// cancelled meanwhile, or the end is queued.
    mutating func finishInlineBatch(_ batch: [any Sendable], taken: Int) -> Bool {
        guard var receiver = inbox.inlineReceiver, receiver.running else {
            preconditionFailure("Internal inconsistency: an inline batch finished without its receiver running")
        }
        receiver.running = false
        let rest = Array(batch[min(max(0, taken), batch.count)...])
        let waiter = receiver.waiter
        if receiver.cancelled || !rest.isEmpty {
            // The task now works through `rest` (it counts as busy with them), or is gone.
            if rest.isEmpty { inbox.consumerBusy = false }
            inbox.inlineReceiver = nil
            deferred.append { waiter.resume(returning: rest.isEmpty ? nil : rest) }
            return false
        }
        inbox.consumerBusy = false
        if inbox.hasEndQueued {
            inbox.inlineReceiver = nil
            deferred.append { waiter.resume(returning: []) }
            return false
        }
        inbox.inlineReceiver = receiver
        return true
    }

    /// The inline receiver's task was cancelled: resumed with nil now, or once its handler
    /// returns.
    mutating func cancelInline(id: UInt64) {
        guard var receiver = inbox.inlineReceiver, receiver.id == id else { return }
        if receiver.running {
            receiver.cancelled = true
            inbox.inlineReceiver = receiver
            return
        }
        inbox.inlineReceiver = nil
        let waiter = receiver.waiter
        deferred.append { waiter.resume(returning: nil) }
    }

    /// After a read: a pending close answer goes out now if no message precedes it in the
    /// inbox and no consumer is busy with one; otherwise when the consumer reaches it, at most
    /// `closeTimeout` later.
    private mutating func scheduleFinishClosing(configuration: ConnectionConfiguration) {
        guard codec.needsFinishClosing, finishClosingDeadline == nil else { return }
        if !inbox.hasMessagePending && !inbox.consumerBusy {
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
        inbox.closeAnswered()
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
        let pending = outbox.pendingCount
        if let refuseAbove, pending > refuseAbove,
           !onlyWhenPeerBehind || outbox.peerBehind || pending > configuration.outboundHighWater {
            throw .outboundFull
        }
        try codec.send(message)
        collectOutput()
        let highWater = configuration.outboundHighWater
        if configuration.outboundLowWater != nil && !pausedForOutput && outbox.pendingCount > highWater {
            pausedForOutput = true
            replan = true
        }
        return outbox.drainTarget(below: highWater)
    }

    /// The byte count a sender must see written for the queued output to be at most `limit`
    /// bytes; nil when it is already.
    func drainTarget(below limit: Int) -> UInt64? {
        outbox.drainTarget(below: limit)
    }

    /// Registers a sender waiting for the output to drain down to `target` bytes written.
    /// - Parameters:
    ///   - id: The waiter's id from ``reserveSendWaiterID()``, for its cancellation.
    ///   - cancelled: The waiting task was cancelled before it got here: it gets
    ///     ``ConnectionError/cancelled`` at once.
    mutating func waitForDrain(to target: UInt64, id: UInt64, cancelled: Bool, _ continuation: Waiter) {
        if outbox.bytesWritten >= target {
            deferred.append { continuation.resume(returning: .success(())) }
        } else if isFinished {
            deferred.append { continuation.resume(returning: .failure(.closed)) }
        } else if cancelled {
            deferred.append { continuation.resume(returning: .failure(.cancelled)) }
        } else {
            outbox.addSendWaiter(id: id, target: target, continuation)
        }
    }

    /// How many senders wait for the output to drain.
    var waitingSenderCount: Int { outbox.waitingSenderCount }

    /// An id for a sender about to wait for the output to drain.
    mutating func reserveSendWaiterID() -> UInt64 {
        outbox.reserveSendWaiterID()
    }

    /// A sender waiting for the output to drain was cancelled: it gets
    /// ``ConnectionError/cancelled`` (what it sent stays queued and goes out).
    mutating func cancelSendWaiter(id: UInt64) {
        guard let continuation = outbox.removeSendWaiter(id: id) else { return }
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
    /// gone or full, or nothing is queued. The writer must call
    /// ``finishWriting(remaining:written:error:spent:configuration:)``.
    mutating func takeForWriting(socketWritable: Bool = false) -> OutboundChunks? {
        outbox.takeForWriting(socketWritable: socketWritable, socketUsable: socketUsable)
    }

    /// After queueing a message that may wait for the loop's flush: returns chunks to write
    /// at once (the send is not part of a long burst, see ``WriteCoalescing``; or more than
    /// `limit` bytes wait unwritten: the sender writes, and so paces itself), or whether the
    /// caller must schedule the flush (none is scheduled, and neither a writer nor the loop's
    /// writability watch will pick the bytes up).
    mutating func queueForFlush(limit: Int, now: ContinuousClock.Instant) -> (chunks: OutboundChunks?, scheduleFlush: Bool) {
        outbox.queueForFlush(limit: limit, now: now, socketUsable: socketUsable)
    }

    /// The loop's scheduled flush runs: takes what is queued for writing.
    mutating func takeForScheduledFlush() -> OutboundChunks? {
        outbox.scheduledFlushRuns()
        return takeForWriting()
    }

    /// The loop's flush found more queued after its write: true when the caller must
    /// schedule another flush for the next turn (none is scheduled yet).
    mutating func rescheduleFlush() -> Bool {
        outbox.rescheduleFlush(socketUsable: !isFinished)
    }

    /// Bytes waiting for the socket, and in how many chunks (for tests).
    var outboundShape: (bytes: Int, chunks: Int) { outbox.shape }

    /// A writer is back: puts back what the socket did not take and wakes senders whose bytes
    /// are out. Returns whether there is more to write right away, and whether the loop must
    /// look at the connection (a finish waited for this writer).
    mutating func finishWriting(remaining: OutboundChunks?, written: Int, error: SocketError?,
                                spent: consuming [UInt8]?, configuration: ConnectionConfiguration) -> (again: Bool, finishWaiting: Bool) {
        // A buffer written whole goes back to the codec: its next message reuses the memory.
        if var spent { codec.reclaimOutputBuffer(&spent) }
        let hadRemaining = remaining != nil
        for waiter in outbox.finishWriting(remaining: remaining, written: written, failed: error != nil) {
            deferred.append { waiter.resume(returning: .success(())) }
        }
        // Output fell to the low-water mark: the loop must plan again to read.
        let resumeReading = pausedForOutput && outbox.pendingCount <= min(configuration.outboundLowWater ?? 0, configuration.outboundHighWater)
        let finishWaiting = finishWaitsForWriter || resumeReading
        finishWaitsForWriter = false
        if let error {
            transportFailed(error)
            return (false, finishWaiting)
        }
        return (!hadRemaining && !outbox.isEmpty && !isFinished, finishWaiting)
    }

    // MARK: Loop

    /// Decides what the loop does with the socket next.
    mutating func plan(configuration: ConnectionConfiguration) -> Plan {
        let write = !outbox.isEmpty && !outbox.writerActive
        let read: Bool
        switch lifecycle {
        case .finished:
            return .finish
        case .handshaking:
            read = true
        case .closing(var closing):
            switch closing.cause {
            case .dropped:
                return .finish
            case .refused:
                if outbox.isEmpty && !outbox.writerActive { return .finish }
                read = false
            case .protocolClosed:
                // Closed: flush the last frames; then the side that closes first closes TCP,
                // the other waits for it (RFC 6455 section 7.1.1), both within closeTimeout.
                if closing.deadline == nil {
                    closing.deadline = .now + configuration.closeTimeout
                    lifecycle.advance(to: .closing(closing))
                }
                if outbox.isEmpty && !outbox.writerActive && codec.closesTransportFirst { return .finish }
                read = outbox.isEmpty
            }
        case .open(let open):
            if codec.isClosed {
                lifecycle.advance(to: .closing(.init(cause: .protocolClosed, handshakeCompleted: true, handshakeFailure: nil,
                                                     deadline: open.closeDeadline)))
                return plan(configuration: configuration)
            }
            if let lowWater = configuration.outboundLowWater.map({ min($0, configuration.outboundHighWater) }) {
                if outbox.pendingCount > configuration.outboundHighWater {
                    pausedForOutput = true
                } else if outbox.pendingCount <= lowWater {
                    pausedForOutput = false
                }
            }
            read = codec.isReading && inbox.bytes < configuration.inboundBufferLimit && !pausedForOutput
        }
        readingPaused = !isHandshaking && !codec.isClosed && codec.isReading && !read
        var interest: PollEvents = []
        if read { interest.insert(.readable) }
        if write { interest.insert(.writable) }
        if activityWatch == nil && isOpen && (configuration.idleTimeout != nil || configuration.drainTimeout != nil) {
            activityWatch = ActivityWatch(idleTimeout: configuration.idleTimeout, drainTimeout: configuration.drainTimeout, now: .now)
        }
        let deadline = [handshakeDeadline, finishClosingDeadline, closeDeadline, activityWatch?.nextCheck].compactMap { $0 }.min()
        return .watch(interest, deadline: deadline)
    }

    /// When the handshake fails as timed out, while it runs.
    private var handshakeDeadline: ContinuousClock.Instant? {
        if case .handshaking(let handshaking) = lifecycle { handshaking.deadline } else { nil }
    }

    /// When the connection is dropped if its close has not completed.
    private var closeDeadline: ContinuousClock.Instant? {
        switch lifecycle {
        case .open(let open): open.closeDeadline
        case .closing(let closing): closing.deadline
        case .handshaking, .finished: nil
        }
    }

    /// Applies deadlines that have passed.
    /// - Parameters:
    ///   - now: the time to judge by; nil reads the clock (only when a deadline is set).
    ///   - activity: whether to look at the idle and drain timeouts too. The loop's timer does;
    ///     the read path does not (a read is activity, and a clock read per read would cost
    ///     every busy connection for a check due every few seconds).
    mutating func checkDeadlines(now given: ContinuousClock.Instant? = nil, activity: Bool = true) {
        let watching = activity && activityWatch != nil
        let handshakeDeadline = handshakeDeadline
        let closeDeadline = closeDeadline
        guard handshakeDeadline != nil || finishClosingDeadline != nil || closeDeadline != nil || watching else { return }
        let now = given ?? .now
        if watching, var watch = activityWatch, now >= watch.nextCheck {
            let expired = watch.check(bytesRead: bytesRead, bytesWritten: outbox.bytesWritten,
                                      outputWaiting: !outbox.isEmpty || outbox.writerActive, now: now)
            activityWatch = watch
            if let expired, !isFinished {
                expiry = expired
                activityWatch = nil
                // A peer that stopped reading gets a reset: a FIN would wait behind its output.
                drop(reset: expired == .drain)
            }
        }
        if let handshakeDeadline, now >= handshakeDeadline, case .handshaking = lifecycle {
            handshakeFailed(.timedOut, cause: .dropped(reset: false))
        }
        if let deadline = finishClosingDeadline, now >= deadline {
            finishClosingNow()
        }
        if let closeDeadline, now >= closeDeadline {
            drop(reset: !codec.isClosed)
        }
    }

    /// How the socket is closed when the connection finishes.
    enum SocketClose: Sendable, Equatable {
        /// `shutdown` and `close`: the peer reads what was written, then the end.
        case fin
        /// A TCP reset (`SO_LINGER` 0): a dropped peer, a drain timeout, an abort.
        case reset
    }

    /// Ends everything: messages, senders, probes, close waiters, the ready callback, and
    /// returns how the caller closes the socket. Returns nil (and changes nothing) before the
    /// closing step, once finished, or while a writer still uses the socket (the writer comes
    /// back through the loop).
    mutating func finish(configuration: ConnectionConfiguration) -> SocketClose? {
        guard case .closing(let closing) = lifecycle else { return nil }
        guard !outbox.writerActive else {
            finishWaitsForWriter = true
            return nil
        }
        let closure = codec.transportClosed()
        lifecycle.advance(to: .finished(closure: closure))
        outbox.removeAll()
        if let onReady {
            let failure = closing.handshakeFailure ?? transportError.map(ConnectFailure.socket) ?? .closedDuringHandshake
            deferred.append { onReady(.failure(failure)) }
            self.onReady = nil
        }
        inbox.appendEndIfMissing()
        deliverToWaitingReceivers(configuration: configuration)
        for waiter in outbox.removeAllSendWaiters() { deferred.append { waiter.resume(returning: .failure(.closed)) } }
        for waiter in probeWaiters { deferred.append { waiter.continuation.resume(returning: .failure(.closed)) } }
        probeWaiters.removeAll()
        for waiter in closeWaiters { deferred.append { waiter.resume(returning: closure) } }
        closeWaiters.removeAll()
        return closing.cause == .dropped(reset: true) ? .reset : .fin
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
