import Locking

/// Fans values out to any number of `AsyncStream` listeners (connection states, raw frames,
/// status pushes), in order, without ever yielding under a lock.
///
/// Values are recorded with ``enqueue(_:)``, which only appends under the broadcaster's own
/// lock, so an owner may call it while holding its lock (keeping the values in the order of
/// its state changes). ``deliver()``, called after the owner released its lock, yields them;
/// one deliverer at a time, so listeners see the order of ``enqueue(_:)`` even when several
/// threads deliver at once. Each listener buffers the newest `limit` values; what it loses
/// beyond that is counted in ``dropped``.
package final class Broadcaster<Element: Sendable>: Sendable {
    private enum Pending: Sendable {
        /// A value for every listener registered when it was enqueued (ids up to `lastID`).
        case all(Element, lastID: UInt64)
        /// A value for one listener only (its initial value).
        case one(UInt64, Element)
        /// The end, for every listener.
        case finish
    }

    private struct State: Sendable {
        var listeners: [UInt64: AsyncStream<Element>.Continuation] = [:]
        var lastID: UInt64 = 0
        var pending: [Pending] = []
        var delivering = false
        var finished = false
        var dropped = 0
    }

    private let state = LockedValue(State())
    private let limit: Int

    /// A broadcaster whose listeners each buffer the newest `limit` values.
    package init(bufferingNewest limit: Int) {
        self.limit = max(1, limit)
    }

    /// Values listeners lost because they were full, summed over all listeners.
    package var dropped: Int { state.withLock { $0.dropped } }

    /// The number of registered listeners.
    package var listenerCount: Int { state.withLock { $0.listeners.count } }

    /// A new listener. `initial` is its first value (e.g. the current state), queued in order
    /// with everything enqueued around it; call ``deliver()`` after releasing your lock. After
    /// ``finish()`` the stream ends right after `initial`.
    package func makeStream(initial: Element? = nil) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(limit))
        let id = state.withLock { state -> UInt64? in
            guard !state.finished else { return nil }
            state.lastID += 1
            state.listeners[state.lastID] = continuation
            if let initial { state.pending.append(.one(state.lastID, initial)) }
            return state.lastID
        }
        guard let id else {
            if let initial { continuation.yield(initial) }
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.listeners.removeValue(forKey: id) }
        }
        return stream
    }

    /// Records a value for every listener (no call out: safe under the caller's lock).
    /// Returns whether anything was recorded (false without listeners): then ``deliver()`` is
    /// due.
    @discardableResult
    package func enqueue(_ element: Element) -> Bool {
        state.withLock { state in
            guard !state.finished, !state.listeners.isEmpty else { return false }
            state.pending.append(.all(element, lastID: state.lastID))
            return true
        }
    }

    /// Records several values for every listener, in order, in one lock acquisition.
    @discardableResult
    package func enqueue(contentsOf elements: some Sequence<Element>) -> Bool {
        state.withLock { state in
            guard !state.finished, !state.listeners.isEmpty else { return false }
            let lastID = state.lastID
            for element in elements { state.pending.append(.all(element, lastID: lastID)) }
            return true
        }
    }

    /// Records the end: listeners finish after the values before it. Later values are ignored.
    package func enqueueFinish() {
        state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            state.pending.append(.finish)
        }
    }

    /// Enqueues and delivers a value (for callers that hold no lock).
    package func yield(_ element: Element) {
        enqueue(element)
        deliver()
    }

    /// Ends every listener (for callers that hold no lock).
    package func finish() {
        enqueueFinish()
        deliver()
    }

    /// Yields everything enqueued, in order. Returns at once if another thread is delivering
    /// (it takes what this one enqueued too).
    package func deliver() {
        while true {
            let batch = state.withLock { state -> (pending: [Pending], listeners: [UInt64: AsyncStream<Element>.Continuation])? in
                guard !state.delivering, !state.pending.isEmpty else { return nil }
                state.delivering = true
                defer { state.pending.removeAll() }
                let listeners = state.listeners
                if state.finished { state.listeners.removeAll() }
                return (state.pending, listeners)
            }
            guard let batch else { return }
            var dropped = 0
            for item in batch.pending {
                switch item {
                case .all(let element, let lastID):
                    for (id, listener) in batch.listeners where id <= lastID {
                        if case .dropped = listener.yield(element) { dropped += 1 }
                    }
                case .one(let id, let element):
                    if case .dropped = batch.listeners[id]?.yield(element) { dropped += 1 }
                case .finish:
                    for listener in batch.listeners.values { listener.finish() }
                }
            }
            state.withLock { state in
                state.delivering = false
                state.dropped += dropped
            }
        }
    }
}
