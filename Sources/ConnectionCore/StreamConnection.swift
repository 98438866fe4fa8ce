import Locking
import TCPTransport

/// One TCP connection running a ``StreamCodec`` on an ``EventLoop``: the I/O edge every
/// protocol of this package shares.
///
/// The loop reads into its buffer, feeds the codec (handshake first), queues complete messages
/// for ``receive()`` (or hands them to a task's handler itself, ``receiveInline(limit:_:)``)
/// and writes what the codec queues. Senders write directly from their own
/// context when the socket takes the bytes, and wait (backpressure) only while more than
/// ``ConnectionConfiguration/outboundHighWater`` bytes are queued. A consumer that falls
/// behind makes the loop stop reading this socket, so the peer feels TCP backpressure instead
/// of this process growing without bound.
///
/// Closing: a close from the peer, or a protocol violation, is answered once the consumer has
/// taken every message that arrived before it (or after the close timeout if it does not), so
/// an application sees, and may answer, all of them.
package final class StreamConnection: EventLoopHandler, Sendable {
    /// The loop this connection runs on.
    package let loop: EventLoop
    /// Buffers and timeouts.
    package let configuration: ConnectionConfiguration
    /// The peer's address, e.g. "127.0.0.1:52144".
    package let remoteAddress: String

    let socket: Socket
    private let state: LockedValue<StreamConnectionState>
    /// What the loop watches the socket for, and the deadline timer scheduled. Loop thread only.
    private let registration: LoopConfined<Registration>

    private struct Registration {
        var interest: PollEvents?
        var timer: (deadline: ContinuousClock.Instant, timer: EventLoop.Timer)?
    }

    /// Wraps a connected socket; nothing happens until ``start(handshakeDeadline:onReady:)``.
    /// - Parameter transport: TLS between the socket and the handshake and codec, or nil.
    package init(socket: Socket, loop: EventLoop, configuration: ConnectionConfiguration, codec: any StreamCodec,
                 handshake: (any StreamHandshake)?, transport: (any SecureTransport)? = nil, remoteAddress: String) {
        self.socket = socket
        self.loop = loop
        self.configuration = configuration
        self.remoteAddress = remoteAddress
        self.state = LockedValue(StreamConnectionState(codec: codec, handshake: handshake, transport: transport))
        self.registration = LoopConfined(Registration(), loop: loop)
    }

    /// Registers the connection on its loop and runs the handshake. `onReady` is called once,
    /// on the loop, when the handshake completed (the connection may be used) or failed (the
    /// connection is closed).
    package func start(handshakeDeadline: ContinuousClock.Instant?,
                       onReady: @escaping @Sendable (Result<Void, ConnectFailure>) -> Void) {
        state.withLock { state in
            // Without a handshake there is nothing to time out (found by a flaky test: 300
            // connections opened slowly under load lost their first ones to this deadline).
            state.setHandshakeDeadline(handshakeDeadline)
            state.onReady = onReady
        }
        loop.execute { [self] in
            withState { $0.started(configuration: configuration) }
            flush()
            update()
        }
    }

    /// Runs `body` under the lock, then the resumptions it queued.
    @inline(__always)
    private func withState<Result, Failure: Error>(_ body: (inout StreamConnectionState) throws(Failure) -> Result) throws(Failure) -> Result {
        var deferred: [@Sendable () -> Void] = []
        defer { for resumption in deferred { resumption() } }  // after the lock is released
        return try state.withLock { (state) throws(Failure) -> Result in
            defer { if !state.deferred.isEmpty { swap(&deferred, &state.deferred) } }
            return try body(&state)
        }
    }

    /// What the handshake learned (a request path, a response head); nil without one.
    package var handshakeResult: (any Sendable)? {
        state.withLock { $0.handshakeResult }
    }

    // MARK: Receiving

    /// Takes the next message, waiting for one; nil once the connection has ended (or the
    /// task is cancelled while waiting).
    package func receive() async -> (any Sendable)? {
        var wake = false
        let (immediate, receiverID) = withState { state -> (StreamConnectionState.Take, UInt64) in
            let take = state.takeNext(configuration: configuration, wake: &wake)
            guard case .empty = take else { return (take, 0) }
            return (take, state.reserveReceiverID())
        }
        if wake { afterConsumerProgress() }
        switch immediate {
        case .message(let message): return message
        case .end: return nil
        case .empty: return await waitForMessage(receiverID)
        }
    }

    /// Takes the next message and every further one already received (up to `limit`), in
    /// order: one wake-up for a burst. Nil once the connection has ended. Three lock
    /// acquisitions when it has to wait (look and reserve, register, take the rest), one when
    /// messages are queued.
    ///
    /// Fairness on the cooperative pool: a consumer that always finds messages waiting (a peer
    /// flooding a server) never suspends on its own and would keep a pool thread from every
    /// other task. Every ``StreamInbox/batchesBeforeYield``-th batch in a row that
    /// needed no wait, it steps aside (`Task.yield()`) before it takes the messages, so they
    /// still count as received and waiting meanwhile (a request deadline sees them).
    package func receiveBatch(limit: Int = 256) async -> [any Sendable]? {
        var wake = false
        var stepAside = false
        var (queued, receiverID) = withState { state -> ([any Sendable], UInt64) in
            if state.stepsAsideBeforeTaking() {
                stepAside = true
                return ([], 0)
            }
            return takeOrReserve(&state, limit: limit, wake: &wake)
        }
        if stepAside {
            await Task.yield()
            (queued, receiverID) = withState { takeOrReserve(&$0, limit: limit, wake: &wake) }
        }
        if wake { afterConsumerProgress() }
        if !queued.isEmpty { return queued }
        guard let first = await waitForMessage(receiverID) else { return nil }
        let more = withState { $0.takeQueuedMessages(limit: limit - 1, configuration: configuration, wake: &wake) }
        if wake { afterConsumerProgress() }
        return more.isEmpty ? [first] : [first] + more
    }

    /// Takes what is queued, or reserves a receiver id to wait with.
    private func takeOrReserve(_ state: inout StreamConnectionState, limit: Int, wake: inout Bool) -> ([any Sendable], UInt64) {
        let messages = state.takeQueuedMessages(limit: limit, configuration: configuration, wake: &wake)
        guard messages.isEmpty else {
            state.consumerTookMessage()
            return (messages, 0)
        }
        return ([], state.reserveReceiverID())
    }

    /// Waits for the next message as receiver `receiverID` (reserved under the lock before):
    /// the message, or nil at the end or when the task is cancelled.
    private func waitForMessage(_ receiverID: UInt64) async -> (any Sendable)? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<(any Sendable)?, Never>) in
                var wake = false
                withState { state in
                    switch state.takeNext(configuration: configuration, wake: &wake) {
                    case .message(let message): state.deferred.append { continuation.resume(returning: message) }
                    case .end: state.deferred.append { continuation.resume(returning: nil) }
                    case .empty:
                        // A cancellation that came first is seen here; one that comes later
                        // finds the receiver by its id.
                        if Task.isCancelled {
                            state.deferred.append { continuation.resume(returning: nil) }
                        } else {
                            state.addReceiver(receiverID, continuation)
                        }
                    }
                }
                if wake { afterConsumerProgress() }
            }
        } onCancel: {
            withState { $0.cancelReceiver(id: receiverID) }
        }
    }

    /// Lets the loop thread hand messages to `handler` as the codec completes them, without
    /// waking this task (see ``InlineReceiver``): a message reaches its consumer one hop
    /// sooner. Returns, for this task to work through itself: messages that were queued
    /// already (none are handed to `handler` then), the messages `handler` handed back (it
    /// returns how many of a batch it took), or none when the end is queued (take the rest
    /// with ``receiveBatch(limit:)`` or call this again). Nil at the end, or when the task is
    /// cancelled (unless `handler` handed messages back meanwhile: they are returned).
    ///
    /// `handler` runs on the loop thread with no lock held, one batch of at most `limit`
    /// messages at a time, in order; it must not wait, and should decline a batch that is
    /// more work than the loop should do in one go for one connection (the task is then
    /// resumed with it, and the loop reads on meanwhile). One task at a time: a second one
    /// installing a handler on the same connection traps.
    ///
    /// Fairness on the cooperative pool as in ``receiveBatch(limit:)``: a task that keeps
    /// finding messages queued steps aside (`Task.yield()`) every
    /// ``StreamInbox/batchesBeforeYield``-th time before it takes them.
    package func receiveInline(limit: Int = 256, _ handler: @escaping @Sendable ([any Sendable]) -> Int) async -> [any Sendable]? {
        let (id, stepAside) = withState { state in (state.reserveReceiverID(), state.stepsAsideBeforeTaking()) }
        if stepAside { await Task.yield() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: InlineReceiver.Waiter) in
                var wake = false
                let receiver = InlineReceiver(id: id, limit: max(1, limit), handler: handler, waiter: waiter)
                withState { $0.installInline(receiver, isCancelled: Task.isCancelled, configuration: configuration, wake: &wake) }
                if wake { afterConsumerProgress() }
            }
        } onCancel: {
            withState { $0.cancelInline(id: id) }
        }
    }

    /// Whether a task's inline receiver is installed (tests).
    var hasInlineReceiver: Bool { state.withLock { $0.hasInlineReceiver } }

    /// Loop thread, after a read: hands what the codec completed to the inline receiver, batch
    /// by batch, while it takes everything.
    private func deliverInline() {
        while let (handler, batch) = withState({ $0.takeInlineBatch(configuration: configuration) }) {
            let taken = handler(batch)
            guard withState({ $0.finishInlineBatch(batch, taken: taken) }) else { break }
        }
    }

    /// The consumer made room or reached a close: the loop may read again or write the answer.
    private func afterConsumerProgress() {
        flush()
        loop.execute { [self] in update() }
    }

    // MARK: Sending

    /// Queues `message` (one of the codec's outbound message types) and writes it. Returns
    /// once the bytes are written or queued; waits while more than the high-water mark is
    /// queued (a wait the task's cancellation ends: the message stays queued).
    /// - Throws: ``ConnectionError/closed`` once the connection is closing or closed,
    ///   ``ConnectionError/cancelled`` if the task is cancelled while it waits,
    ///   ``ConnectionError/transportFailed(_:)`` if the socket fails, or what the codec throws.
    package func send(_ message: any Sendable) async throws(ConnectionError) {
        var replan = false
        let target = try withState { (state) throws(ConnectionError) in
            try state.queue(message, configuration: configuration, refuseAbove: nil, replan: &replan)
        }
        if replan { loop.execute { [self] in update() } }
        flush()
        guard let target else { return }
        try await waitForDrain(to: target).get()
    }

    /// Waits until `target` bytes were written in all, the connection ended, or the task is
    /// cancelled.
    private func waitForDrain(to target: UInt64) async -> Result<Void, ConnectionError> {
        let id = state.withLock { $0.reserveSendWaiterID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // A cancellation that came first is seen here; one that comes later finds the
                // waiter by its id.
                withState { $0.waitForDrain(to: target, id: id, cancelled: Task.isCancelled, continuation) }
            }
        } onCancel: {
            withState { $0.cancelSendWaiter(id: id) }
        }
    }

    /// Queues a message without writing it: for callers holding a lock of their own, whose
    /// order of messages must follow that lock's order. Call ``flush()`` after releasing it.
    /// - Throws: ``ConnectionError/outboundFull`` (nothing queued) while more than the
    ///   high-water mark waits; otherwise as ``send(_:)``.
    package func enqueue(_ message: any Sendable) throws(ConnectionError) {
        try enqueue(message, refusingAbove: configuration.outboundHighWater)
    }

    /// Queues a message without writing it and without the high-water check: for a
    /// protocol's own bounded state that must reach the peer whole and in order (a session's
    /// resends after a reconnect), queued under the caller's lock. Call ``flush()`` after
    /// releasing it. The caller bounds what it queues this way.
    /// - Throws: ``ConnectionError/closed`` once the connection is closing or closed, or what
    ///   the codec throws.
    package func enqueueUnbounded(_ message: any Sendable) throws(ConnectionError) {
        try enqueue(message, refusingAbove: nil)
    }

    /// Queues a message without writing it, refusing while more than `limit` bytes wait
    /// (nil: never).
    private func enqueue(_ message: any Sendable, refusingAbove limit: Int?) throws(ConnectionError) {
        var replan = false
        _ = try withState { (state) throws(ConnectionError) in
            try state.queue(message, configuration: configuration, refuseAbove: limit, replan: &replan)
        }
        if replan { loop.execute { [self] in update() } }
    }

    /// Queues a message and writes it now, from any context, without waiting for
    /// backpressure (see ``enqueue(_:)`` for the limit).
    /// - Parameter limit: refuse while more than this many bytes wait (default: the high-water
    ///   mark): a server drops what a slow peer cannot take, in the same lock acquisition.
    package func sendNow(_ message: any Sendable, refusingAbove limit: Int? = nil) throws(ConnectionError) {
        // Queue and take for writing in one lock acquisition: the common single-message send.
        var replan = false
        let chunks = try withState { (state) throws(ConnectionError) -> OutboundChunks? in
            _ = try state.queue(message, configuration: configuration, refuseAbove: limit ?? configuration.outboundHighWater, replan: &replan)
            return state.takeForWriting()
        }
        if replan { loop.execute { [self] in update() } }
        if let chunks, write(chunks) { flush() }
    }

    /// Queues a message and writes it, at once or, inside a long rapid burst of sends, at the
    /// end of its loop's current turn together with everything else queued for this
    /// connection by then: one `send` per 64 KiB for many messages, from any thread (NIO's
    /// write-then-flush; the rule is ``WriteCoalescing``). The calling thread writes at once
    /// too when more than ``coalescingLimit`` bytes (or half of `limit`) wait unwritten and no
    /// other writer is busy, so a fast producer paces itself. `limit` refuses only while the
    /// peer is behind (the last write left bytes the socket did not take) or past the
    /// high-water mark: output merely waiting for this process's writer (the loop's flush, a
    /// writer thread the system preempted) is not held against the peer.
    /// - Parameter limit: as ``sendNow(_:refusingAbove:)``.
    /// - Throws: as ``sendNow(_:refusingAbove:)``.
    package func sendSoon(_ message: any Sendable, refusingAbove limit: Int? = nil) throws(ConnectionError) {
        var replan = false
        let refusal = limit ?? configuration.outboundHighWater
        let now = ContinuousClock.now
        let (chunks, scheduleFlush) = try withState { (state) throws(ConnectionError) -> (OutboundChunks?, Bool) in
            _ = try state.queue(message, configuration: configuration, refuseAbove: refusal, onlyWhenPeerBehind: true, replan: &replan)
            return state.queueForFlush(limit: min(Self.coalescingLimit, refusal / 2), now: now)
        }
        if replan { loop.execute { [self] in update() } }
        if scheduleFlush { loop.execute { [self] in flushScheduledOutput() } }
        if let chunks, write(chunks) { flush() }
    }

    /// Bytes ``sendSoon(_:refusingAbove:)`` leaves for the loop's flush before the sender
    /// writes itself.
    package static let coalescingLimit = 16 * 1024

    /// The flush ``sendSoon(_:refusingAbove:)`` scheduled, on the loop: one write of what is
    /// queued (gathered into chunks of up to 64 KiB, see `OutboundQueue`); more queued
    /// meanwhile waits for the next turn, so the loop's other connections get theirs first.
    private func flushScheduledOutput() {
        guard let chunks = withState({ $0.takeForScheduledFlush() }) else { return }
        guard write(chunks) else { return }
        if withState({ $0.rescheduleFlush() }) { loop.execute { [self] in flushScheduledOutput() } }
    }

    /// Waits until at most `limit` bytes wait for the socket (the peer caught up), the
    /// connection ended, or the task is cancelled. A server holds a fast producer back with it.
    package func waitForOutput(below limit: Int) async {
        guard let target = state.withLock({ $0.drainTarget(below: limit) }) else { return }
        _ = await waitForDrain(to: target)
    }

    /// Bytes queued for the socket and not yet written: how far the peer lags behind.
    package var pendingOutputBytes: Int {
        state.withLock { $0.pendingOutputCount }
    }

    /// Writes what is queued until the socket would block, outside the lock. One writer at a
    /// time; whoever finds another writer busy leaves the bytes to it.
    package func flush() {
        flush(socketWritable: false)
    }

    /// `socketWritable`: the loop saw the socket writable (a full socket has room again).
    private func flush(socketWritable: Bool) {
        var socketWritable = socketWritable
        while true {
            let writable = socketWritable
            socketWritable = false
            guard let chunks = withState({ $0.takeForWriting(socketWritable: writable) }) else { return }
            guard write(chunks) else { return }
        }
    }

    /// Writes chunks taken with the writer token, gives the token back with what the socket
    /// did not take. Returns whether more was queued meanwhile and can be written right away.
    @discardableResult
    private func write(_ chunks: consuming OutboundChunks) -> Bool {
        var written = 0
        var failure: SocketError?
        var remaining: OutboundChunks?
        var index = 0
        writing: while index < chunks.count {
            var offset = 0
            let chunk = chunks[index]
            while offset < chunk.count {
                let result = chunk.withUnsafeBytes { bytes in
                    Result { () throws(SocketError) in try socket.write(UnsafeRawBufferPointer(rebasing: bytes[offset...])) }
                }
                switch result {
                case .success(.bytes(let count)):
                    offset += count
                    written += count
                case .success:
                    remaining = chunks.remaining(from: index, offset: offset)
                    break writing
                case .failure(let error):
                    failure = error
                    break writing
                }
            }
            index += 1
        }
        let spent: [UInt8]? = remaining == nil && failure == nil && chunks.more.isEmpty ? chunks.first : nil
        _ = consume chunks
        let (again, finishWaiting) = withState { $0.finishWriting(remaining: remaining, written: written, error: failure, spent: spent,
                                                                         configuration: configuration) }
        if remaining != nil || failure != nil || finishWaiting {
            // The loop watches for writability, notices the failure, or finishes a close
            // that waited for this writer.
            if loop.inLoop { update() } else { loop.execute { [self] in update() } }
            return false
        }
        return again
    }

    /// Queues a liveness probe (a WebSocket ping) and waits for its answer. Bound it with a
    /// timeout of your own.
    /// - Throws: ``ConnectionError/closed`` if the connection ends first,
    ///   ``ConnectionError/probeUnsupported`` for protocols without one.
    package func probe() async throws(ConnectionError) {
        let result: Result<Void, ConnectionError> = await withCheckedContinuation { continuation in
            withState { $0.sendProbe(continuation) }
            flush()
        }
        try result.get()
    }

    // MARK: Closing

    /// Begins the protocol's closing as `request` describes it (e.g. a close frame with a
    /// code), then waits until the connection has ended; returns how it ended. Calling it
    /// again, or after the end, just waits.
    @discardableResult
    package func close(_ request: any Sendable) async -> any Sendable {
        startClosing(request)
        return await closed()
    }

    /// Starts the closing handshake (`request` for the codec) and returns at once: what is
    /// queued is written, then the codec's close (a FIN for line codecs, a close frame for
    /// WebSocket), and the connection's loop finishes it, within the close timeout. For owners
    /// that stop without waiting (a released client, a command-line tool about to exit).
    package func startClosing(_ request: any Sendable) {
        withState { $0.startClosing(request, configuration: configuration) }
        flush()
        loop.execute { [self] in update() }
    }

    /// Drops the connection at once, without a closing handshake (TCP reset).
    package func abort() {
        state.withLock { $0.drop(reset: true) }
        loop.execute { [self] in update() }
    }

    /// Ends a handshake that is still running as failed (the opener gave up).
    package func failHandshake(_ failure: ConnectFailure) {
        state.withLock { $0.failHandshake(failure) }
        loop.execute { [self] in update() }
    }

    /// Which timeout ended the connection (idle or drain), if one did.
    package var expiry: ActivityWatch.Expiry? { state.withLock { $0.expiry } }

    /// How the connection ended; nil while it is open.
    package var closure: (any Sendable)? {
        state.withLock { $0.finalClosure }
    }

    /// Waits until the connection has ended and returns how.
    package func closed() async -> any Sendable {
        await withCheckedContinuation { continuation in
            withState { $0.waitForClosure(continuation) }
        }
    }

    /// Whether reading is paused because the consumer is behind, or (a server) because its
    /// output passed the high-water mark (for tests and statistics).
    package var isReadingPaused: Bool { state.withLock { $0.readingPaused } }

    /// Counts every start and end of a reading pause (odd while paused): equal values at two
    /// moments mean reading never paused in between. See ``StreamConnectionState``.
    package var readingPauseEpoch: UInt64 { state.withLock { $0.pauseEpoch } }

    /// Bytes of received messages waiting for the consumer.
    package var inboundBufferedBytes: Int { state.withLock { $0.inboxBytes } }

    /// How many times ``sendSoon(_:refusingAbove:)`` left the write to the loop's flush (for
    /// tests and statistics).
    package var flushesScheduled: UInt64 { state.withLock { $0.flushesScheduled } }

    /// How many senders wait for the output to drain (for tests).
    package var waitingSenderCount: Int { state.withLock { $0.waitingSenderCount } }

    /// How many messages the codec has completed on this connection so far, whether the
    /// consumer took them or not: a deadline for "the next message" compares it with the
    /// count when it was set, and is not fooled by a message that arrived in time but waits
    /// for its consumer's task.
    package var messagesReceived: UInt64 { state.withLock { $0.messagesReceived } }

    /// What a connection holds in memory and whether it reads, at one moment.
    package struct Buffers: Sendable, Hashable {
        /// Bytes queued for the socket and not yet written.
        package var pendingOutput: Int
        /// Bytes of received messages waiting for the consumer.
        package var inboundBuffered: Int
        /// Reading is paused because output passed the high-water mark.
        package var readingPausedForOutput: Bool
        /// Reading is paused, for either reason.
        package var readingPaused: Bool
    }

    /// The connection's buffers, read under one lock acquisition (for statistics and tests).
    package var buffers: Buffers {
        state.withLock { state in
            Buffers(pendingOutput: state.pendingOutputCount, inboundBuffered: state.inboxBytes,
                    readingPausedForOutput: state.pausedForOutput, readingPaused: state.readingPaused)
        }
    }

    // MARK: Loop thread

    package func handleEvents(_ events: PollEvents) {
        if !events.isDisjoint(with: [.writable, .failure]) { flush(socketWritable: true) }
        if !events.isDisjoint(with: [.readable, .failure]), let plan = readAvailable() {
            apply(plan)
        } else {
            update()
        }
    }

    /// Applies what the state asks for: interest, deadline timer, or the end.
    private func update() {
        apply(withState { state in
            state.checkDeadlines()
            return state.plan(configuration: configuration)
        })
    }

    private func apply(_ plan: StreamConnectionState.Plan) {
        switch plan {
        case .watch(let interest, let deadline):
            let changed = registration.withValue { registration -> Bool in
                defer { registration.interest = interest }
                return registration.interest != interest
            }
            if changed && !loop.setInterest(socket.descriptor, interest, handler: self) {
                // The loop cannot watch one more descriptor: fail the connection, clearly.
                registration.withValue { $0.interest = nil }
                state.withLock { $0.transportFailed(.loopFull(limit: loop.descriptorLimit)) }
                update()
                return
            }
            scheduleTimer(deadline)
        case .finish:
            guard let close = withState({ $0.finish(configuration: configuration) }) else { return }
            scheduleTimer(nil)
            loop.deregister(socket.descriptor)
            switch close {
            case .reset:
                socket.abort()
            case .fin:
                socket.shutdown()
                socket.close()
            }
        }
    }

    private func scheduleTimer(_ deadline: ContinuousClock.Instant?) {
        let previous = registration.withValue { $0.timer }
        guard previous?.deadline != deadline else { return }
        previous?.timer.cancel()
        guard let deadline else {
            registration.withValue { $0.timer = nil }
            return
        }
        let scheduled = loop.schedule(at: deadline) { [weak self] in self?.update() }
        registration.withValue { $0.timer = (deadline, scheduled) }
    }

    /// Reads what the socket has (up to ``ConnectionConfiguration/readsPerEvent`` reads while
    /// it keeps filling the buffer and the consumer keeps up: the loop then serves the other
    /// ready connections and comes back on its next turn) and processes it. One lock
    /// acquisition per read: process, take what to write (answers such as pongs), check
    /// deadlines and plan; when an inline receiver takes messages, they are handed over after
    /// it and the plan is made then (a lock acquisition per batch and one for the plan).
    /// Returns the last plan, or nil when the loop must plan afresh (end of input, a failure,
    /// nothing read).
    private func readAvailable() -> StreamConnectionState.Plan? {
        let buffer = loop.readBuffer
        for _ in 0..<max(1, configuration.readsPerEvent) {
            let result = Result { () throws(SocketError) in try socket.read(into: buffer) }
            switch result {
            case .success(.bytes(let count)):
                // With messages for an inline receiver the plan waits until they are handed
                // over (they may make room: a plan made before would pause reading for nothing).
                let (madePlan, chunks, inline) = withState { state -> (StreamConnectionState.Plan?, OutboundChunks?, Bool) in
                    state.process(UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), configuration: configuration)
                    let chunks = state.takeForWriting()
                    state.checkDeadlines(activity: false)
                    let inline = state.inlineBatchReady
                    return (inline ? nil : state.plan(configuration: configuration), chunks, inline)
                }
                if let chunks {
                    // The plan was made while this writer held the token: plan again after.
                    if write(chunks) { flush() }
                    if inline { deliverInline() }
                    return nil
                }
                var plan: StreamConnectionState.Plan
                if let madePlan {
                    plan = madePlan
                } else {
                    deliverInline()
                    plan = withState { $0.plan(configuration: configuration) }
                }
                guard count == buffer.count, plan.wantsToRead else { return plan }
            case .success(.wouldBlock):
                return nil
            case .success(.endOfFile):
                state.withLock { $0.inputEnded() }
                return nil
            case .failure(let error):
                state.withLock { $0.transportFailed(error) }
                return nil
            }
        }
        return nil
    }
}

extension StreamConnectionState.Plan {
    var wantsToRead: Bool {
        if case .watch(let interest, _) = self { interest.contains(.readable) } else { false }
    }
}

