/// A connection's sending side: the bytes on their way to the socket, the one writer at a
/// time that takes them out, the counts backpressure waits on, and the senders waiting. A
/// plain value inside ``StreamConnectionState``; like ``StreamInbox``, it hands continuations
/// back instead of resuming them.
struct StreamOutbox: Sendable {
    /// A sender waiting for its bytes to be written.
    typealias Waiter = CheckedContinuation<Result<Void, ConnectionError>, Never>

    private var queue = OutboundQueue()
    /// A thread is writing chunks it took out of the queue; nobody else writes meanwhile.
    private(set) var writerActive = false
    /// The last write found the socket full; cleared when the loop sees it writable.
    private var writeBlocked = false
    /// A flush at the end of the loop's turn is scheduled (``queueForFlush(limit:now:socketUsable:)``).
    private var flushScheduled = false
    /// The last write left bytes the socket did not take, and no write since emptied the
    /// queue: the peer reads slower than this side writes (unlike ``writeBlocked``, not
    /// cleared by a writable socket, only by a write that took everything).
    private(set) var peerBehind = false
    /// Whether ``queueForFlush(limit:now:socketUsable:)`` leaves a send to the loop or writes
    /// it at once.
    private var coalescing = WriteCoalescing()
    /// How many flushes were left to the loop (for tests and statistics).
    private(set) var flushesScheduled: UInt64 = 0
    /// Bytes a writer took out of the queue and has not reported back yet.
    private var inFlight = 0
    /// Every byte queued, and every byte written: a sender waits for `bytesWritten` to reach
    /// a target in `bytesQueued`'s terms.
    private(set) var bytesQueued: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    private var sendWaiters: [(id: UInt64, target: UInt64, continuation: Waiter)] = []
    private var lastSendWaiterID: UInt64 = 0

    /// Whether nothing waits in the queue (a writer may still hold bytes).
    var isEmpty: Bool { queue.isEmpty }
    /// Bytes queued and not yet written, those a writer holds included: the number every
    /// mark, refusal and drain target is about.
    var pendingCount: Int { queue.count + inFlight }
    /// Bytes waiting in the queue, and in how many chunks (for tests).
    var shape: (bytes: Int, chunks: Int) { (queue.count, queue.chunkCount) }

    /// Queues bytes for the socket.
    /// - Parameter counted: whether they count toward ``bytesQueued`` (what a sender's drain
    ///   target is measured in): the codec's output and everything TLS produces do; a plaintext
    ///   handshake's bytes, TLS's first record and its refusal do not (as before the outbox
    ///   was a value of its own). ``bytesWritten`` counts them all, so a sender's wait can end
    ///   that many bytes early: a few hundred, once per connection.
    mutating func append(_ bytes: [UInt8], counted: Bool = true) {
        if counted { bytesQueued += UInt64(bytes.count) }
        queue.append(bytes)
    }

    /// The byte count a sender must see written for at most `limit` bytes to wait; nil when
    /// no more do.
    func drainTarget(below limit: Int) -> UInt64? {
        pendingCount > limit ? bytesQueued - UInt64(limit) : nil
    }

    /// Hands the queued chunks to a writer, unless another writer is busy, the socket is known
    /// to be full (`socketWritable` says the loop saw it writable again), the socket is not
    /// usable, or nothing is queued. The writer must call
    /// ``finishWriting(remaining:written:failed:)``.
    mutating func takeForWriting(socketWritable: Bool, socketUsable: Bool) -> OutboundChunks? {
        if socketWritable { writeBlocked = false }
        // While the socket is known to be full, senders only queue: the loop writes once it
        // reports the socket writable (no failing `send` per message).
        guard socketUsable, !writerActive, !writeBlocked, !queue.isEmpty else { return nil }
        writerActive = true
        inFlight = queue.count
        return queue.takeAll()
    }

    /// After queueing a message that may wait for the loop's flush: chunks to write at once,
    /// or whether the caller must schedule the flush. See
    /// ``StreamConnectionState/queueForFlush(limit:now:)``.
    mutating func queueForFlush(limit: Int, now: ContinuousClock.Instant, socketUsable: Bool) -> (chunks: OutboundChunks?, scheduleFlush: Bool) {
        let defers = coalescing.defersSend(at: now)
        guard defers || flushScheduled, queue.count <= limit else {
            return (takeForWriting(socketWritable: false, socketUsable: socketUsable), false)
        }
        guard !flushScheduled, !writerActive, !writeBlocked, socketUsable else { return (nil, false) }
        flushScheduled = true
        flushesScheduled &+= 1
        return (nil, true)
    }

    /// The loop's scheduled flush runs: it is no longer scheduled.
    mutating func scheduledFlushRuns() {
        flushScheduled = false
    }

    /// True when the caller must schedule another flush for the next turn: more is queued and
    /// none is scheduled yet.
    mutating func rescheduleFlush(socketUsable: Bool) -> Bool {
        guard !flushScheduled, socketUsable, !queue.isEmpty else { return false }
        flushScheduled = true
        flushesScheduled &+= 1
        return true
    }

    /// A writer is back: puts back what the socket did not take, counts what it wrote, and
    /// returns the senders whose bytes are now out.
    mutating func finishWriting(remaining: OutboundChunks?, written: Int, failed: Bool) -> [Waiter] {
        writerActive = false
        writeBlocked = remaining != nil
        if remaining != nil {
            peerBehind = true
        } else if !failed && queue.isEmpty {
            peerBehind = false
        }
        inFlight = 0
        queue.putBack(remaining)
        bytesWritten += UInt64(written)
        guard !sendWaiters.isEmpty else { return [] }
        var done: [Waiter] = []
        sendWaiters.removeAll { waiter in
            guard bytesWritten >= waiter.target else { return false }
            done.append(waiter.continuation)
            return true
        }
        return done
    }

    /// Drops everything queued (the connection finished).
    mutating func removeAll() {
        queue.removeAll()
    }

    // MARK: Waiting senders

    /// How many senders wait for the output to drain.
    var waitingSenderCount: Int { sendWaiters.count }

    /// An id for a sender about to wait (for its cancellation).
    mutating func reserveSendWaiterID() -> UInt64 {
        lastSendWaiterID += 1
        return lastSendWaiterID
    }

    /// Registers a sender waiting for `target` bytes written in all.
    mutating func addSendWaiter(id: UInt64, target: UInt64, _ continuation: Waiter) {
        sendWaiters.append((id, target, continuation))
    }

    /// Removes the waiting sender `id`, if it still waits.
    mutating func removeSendWaiter(id: UInt64) -> Waiter? {
        guard let index = sendWaiters.firstIndex(where: { $0.id == id }) else { return nil }
        return sendWaiters.remove(at: index).continuation
    }

    /// Removes every waiting sender.
    mutating func removeAllSendWaiters() -> [Waiter] {
        defer { sendWaiters.removeAll() }
        return sendWaiters.map(\.continuation)
    }
}
