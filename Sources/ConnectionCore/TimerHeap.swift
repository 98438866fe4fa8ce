/// The pending timers of an ``EventLoop``: a binary min-heap on the deadline (ties keep their
/// scheduling order), with lazy cancellation (a cancelled id is skipped when it comes up).
struct TimerHeap {
    struct Entry {
        let deadline: ContinuousClock.Instant
        let id: UInt64
    }

    private var heap: [Entry] = []
    private var live: Set<UInt64> = []

    var isEmpty: Bool { live.isEmpty }

    /// The earliest deadline still live.
    mutating func nextDeadline() -> ContinuousClock.Instant? {
        dropCancelledTop()
        return heap.first?.deadline
    }

    mutating func insert(_ entry: Entry) {
        live.insert(entry.id)
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Forgets a timer; returns whether it was still pending. Cancelled entries are skipped when
    /// they come up; when they outnumber the live ones (a long timer holding many short,
    /// cancelled ones behind it: request timeouts answered in time), the heap is rebuilt.
    @discardableResult
    mutating func cancel(_ id: UInt64) -> Bool {
        guard live.remove(id) != nil else { return false }
        if heap.count > 64 && heap.count > 2 * live.count {
            // A sorted array is a valid min-heap.
            heap = heap.filter { live.contains($0.id) }.sorted(by: precedes)
        }
        return true
    }

    /// Entries held, cancelled ones included (tests).
    var storedCount: Int { heap.count }

    /// Removes and returns the ids of every live timer due at `now`, earliest first.
    mutating func popDue(at now: ContinuousClock.Instant) -> [UInt64] {
        var due: [UInt64] = []
        while true {
            dropCancelledTop()
            guard let top = heap.first, top.deadline <= now else { return due }
            removeTop()
            live.remove(top.id)
            due.append(top.id)
        }
    }

    private func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id)
    }

    private mutating func dropCancelledTop() {
        while let top = heap.first, !live.contains(top.id) { removeTop() }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && precedes(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
