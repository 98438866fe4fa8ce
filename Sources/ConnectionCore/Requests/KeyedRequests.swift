/// Requests answered by key (a `sensor_id`, a request id), waiting for their answers
/// (sans-I/O): what to send, who to resume, what to send again after a reconnect.
///
/// Requests for the same key share one round trip: only the first needs sending, and one
/// answer (solicited or not) resolves them all. Timeouts and cancellation remove one waiter
/// by its id. After a reconnect, every key still awaited is asked again (``awaitedKeys``):
/// right for idempotent questions, which is what a keyed request is.
package struct KeyedRequests<Key: Hashable & Comparable & Sendable, Waiter: Sendable>: Sendable {
    private var waiters: [Key: [(id: UInt64, waiter: Waiter)]] = [:]
    private var lastID: UInt64 = 0

    package init() {}

    /// Keys that still wait for an answer, in order: what to send again after a reconnect.
    package var awaitedKeys: [Key] { waiters.keys.sorted() }

    /// How many waiters wait for `key`.
    package func count(_ key: Key) -> Int { waiters[key]?.count ?? 0 }

    /// Whether nothing waits.
    package var isEmpty: Bool { waiters.isEmpty }

    /// Adds a waiter. Returns its id, and whether it is the first for `key` (then the caller
    /// sends the request).
    package mutating func add(_ key: Key, _ waiter: Waiter) -> (id: UInt64, isFirst: Bool) {
        lastID += 1
        return (lastID, add(key, waiter, id: lastID))
    }

    /// Adds a waiter under an id the caller chose (unique across every table it cancels by
    /// id: ids from one table's own count collide with another's). Returns whether it is the
    /// first for `key`.
    package mutating func add(_ key: Key, _ waiter: Waiter, id: UInt64) -> Bool {
        let first = waiters[key] == nil
        waiters[key, default: []].append((id, waiter))
        return first
    }

    /// An answer for `key` arrived: every waiter for it, in the order they came.
    package mutating func answer(_ key: Key) -> [Waiter] {
        waiters.removeValue(forKey: key)?.map(\.waiter) ?? []
    }

    /// Removes one waiter (timed out or cancelled); nil if it was answered already.
    package mutating func remove(id: UInt64) -> Waiter? {
        for (key, list) in waiters {
            guard let index = list.firstIndex(where: { $0.id == id }) else { continue }
            var remaining = list
            let removed = remaining.remove(at: index)
            waiters[key] = remaining.isEmpty ? nil : remaining
            return removed.waiter
        }
        return nil
    }

    /// Removes every waiter (the client is done).
    package mutating func removeAll() -> [Waiter] {
        defer { waiters.removeAll() }
        return waiters.values.flatMap { $0.map(\.waiter) }
    }
}
