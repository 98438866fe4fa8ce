/// A connection's received side: the messages the codec completed, in order, until the
/// consumer takes them, the tasks waiting for one, and the counts backpressure and deadlines
/// read. A plain value inside ``StreamConnectionState``; it never resumes anyone itself: it
/// hands continuations back, and the state resumes them after its lock is released.
struct StreamInbox: Sendable {
    /// One queued entry.
    enum Item: Sendable {
        /// A message and its size in bytes.
        case message(any Sendable, Int)
        /// The end of the messages. `finishClosing`: the codec still has to answer the peer's
        /// close (or a protocol error) when the consumer reaches this point.
        case end(finishClosing: Bool)
    }

    /// A consumer waiting for the next message, or nil at the end.
    typealias Receiver = CheckedContinuation<(any Sendable)?, Never>

    // Queued items, consumed from `head` on.
    private var items: [Item] = []
    private var head = 0
    /// Bytes of queued messages: what ``ConnectionConfiguration/inboundBufferLimit`` bounds.
    private(set) var bytes = 0
    /// Every message the codec completed, taken or not.
    private(set) var messagesReceived: UInt64 = 0
    /// The consumer took the end: nothing more is delivered.
    private(set) var ended = false
    /// A consumer took a message and has not asked for the next one yet: it may be answering
    /// it, so a close must not overtake that answer.
    var consumerBusy = false
    private var receivers: [(id: UInt64, continuation: Receiver)] = []
    /// The consumer taking messages on the loop thread, while one is installed.
    var inlineReceiver: InlineReceiver?
    private var lastReceiverID: UInt64 = 0
    /// Batches taken in a row without waiting (reset whenever the consumer has to wait).
    private var batchesWithoutWait = 0

    /// Batches taken in a row without waiting after which a consumer yields its thread once.
    static let batchesBeforeYield = 4

    /// Queues a message the codec completed.
    @inline(__always)
    mutating func append(message: consuming any Sendable, size: Int) {
        bytes += size
        messagesReceived &+= 1
        items.append(.message(message, size))
    }

    /// Queues the end of the messages.
    mutating func appendEnd(finishClosing: Bool) {
        items.append(.end(finishClosing: finishClosing))
    }

    /// Queues the end unless it is queued or was taken already.
    mutating func appendEndIfMissing() {
        let queued = items[head...].contains { if case .end = $0 { true } else { false } }
        if !queued && !ended { items.append(.end(finishClosing: false)) }
    }

    /// Whether the next item is a message.
    var nextIsMessage: Bool {
        guard head < items.count, case .message = items[head] else { return false }
        return true
    }

    /// Whether the end is queued (behind messages or not). Asked with an inline receiver
    /// installed, when the inbox holds at most one read's messages.
    var hasEndQueued: Bool {
        items[head...].contains { if case .end = $0 { true } else { false } }
    }

    /// Whether a message waits before the end.
    var hasMessagePending: Bool {
        items[head...].contains { if case .message = $0 { true } else { false } }
    }

    /// Takes the next item; taking the end marks the inbox ended.
    mutating func popFirst() -> Item? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        compact()
        switch item {
        case .message(_, let size): bytes -= size
        case .end: ended = true
        }
        return item
    }

    /// Takes up to `limit` queued messages, stopping at the end marker (left in place).
    @inline(__always)
    mutating func popMessages(limit: Int) -> [any Sendable] {
        var messages: [any Sendable] = []
        while messages.count < limit, head < items.count, case .message(let message, let size) = items[head] {
            head += 1
            bytes -= size
            messages.append(message)
        }
        compact()
        return messages
    }

    /// The close answer the end marker waited for was queued: the end becomes a plain end.
    mutating func closeAnswered() {
        for index in head..<items.count {
            if case .end(true) = items[index] { items[index] = .end(finishClosing: false) }
        }
    }

    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Counts a consumer's batch: true when messages wait and this is the
    /// ``batchesBeforeYield``-th batch in a row that needs no wait (the consumer yields, then
    /// takes them); false when it should take (or wait) at once.
    mutating func stepsAsideBeforeTaking() -> Bool {
        guard head < items.count, case .message = items[head] else {
            batchesWithoutWait = 0
            return false
        }
        batchesWithoutWait += 1
        guard batchesWithoutWait >= Self.batchesBeforeYield else { return false }
        batchesWithoutWait = 0
        return true
    }

    // MARK: Waiting consumers

    /// Whether a consumer waits.
    var hasReceivers: Bool { !receivers.isEmpty }

    /// An id for a consumer about to wait (for its cancellation).
    mutating func reserveReceiverID() -> UInt64 {
        lastReceiverID += 1
        return lastReceiverID
    }

    /// Registers a consumer waiting under its reserved id.
    mutating func addReceiver(_ id: UInt64, _ continuation: Receiver) {
        receivers.append((id, continuation))
    }

    /// Removes the waiting consumer `id`, if it still waits.
    mutating func removeReceiver(id: UInt64) -> Receiver? {
        guard let index = receivers.firstIndex(where: { $0.id == id }) else { return nil }
        return receivers.remove(at: index).continuation
    }

    /// Removes the consumer that waited longest.
    mutating func removeFirstReceiver() -> Receiver {
        receivers.removeFirst().continuation
    }

    /// Removes every waiting consumer.
    mutating func removeAllReceivers() -> [Receiver] {
        defer { receivers.removeAll() }
        return receivers.map(\.continuation)
    }
}
