import Locking

/// The bounded buffer between a client's receive path and one consumer (a sensor's elements,
/// a metric subscription ...).
///
/// Like `AsyncStream` with `.bufferingNewest(capacity)`, but the consumer takes everything
/// buffered in one step, under one lock acquisition, and then iterates it locally: an element
/// costs an array append on the receive path and an array read on the consumer's side, instead
/// of a lock round trip and often a task resumption each (the README's pipeline benchmark
/// measures both).
///
/// The batch a consumer has taken no longer counts against `capacity`, so one stream holds at
/// most twice `capacity` elements (the buffer and the batch being worked through).
///
/// The receive path may push under its own lock; a consumer to wake is returned, not resumed,
/// so the caller resumes it after releasing its locks.
///
/// The hot methods are `@inlinable`, so a client module specializes them for its element type
/// (a generic queue called across modules otherwise looks up metadata and copies elements
/// through witness tables on every push).
package final class ConsumerQueue<Element: Sendable>: Sendable {
    package typealias Waiter = CheckedContinuation<Void, Never>

    /// How many elements wait at most; beyond it the oldest is dropped.
    package let capacity: Int
    @usableFromInline let state = LockedValue(State())

    @usableFromInline
    struct State: Sendable {
        @usableFromInline var buffer: [Element] = []
        @usableFromInline var head = 0
        /// No more elements will be pushed (the buffered ones are still delivered).
        @usableFromInline var finished = false
        /// The consumer went away (cancelled, or its iterator was dropped).
        @usableFromInline var terminated = false
        @usableFromInline var waiter: Waiter?
        @usableFromInline var onTermination: (@Sendable () -> Void)?

        @usableFromInline init() {}

        @usableFromInline var count: Int { buffer.count - head }
    }

    package init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Whether the consumer is suspended, waiting for an element.
    package var isConsumerWaiting: Bool { state.withLock { $0.waiter != nil } }

    /// Called once when the consumer goes away or the queue is finished and drained.
    package func setOnTermination(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.onTermination = handler }
    }

    // MARK: Receive path

    /// Appends an element. Returns whether the oldest one was dropped to make room, and the
    /// consumer to resume (after the caller's locks are released), if it was waiting.
    @inlinable
    package func push(_ element: Element) -> (dropped: Bool, wake: Waiter?) {
        state.withLock { state in
            guard !state.finished, !state.terminated else { return (false, nil) }
            var dropped = false
            if state.count == capacity {
                state.head += 1
                dropped = true
                if state.head >= 64 && state.head * 2 >= state.buffer.count {
                    state.buffer.removeFirst(state.head)
                    state.head = 0
                }
            }
            state.buffer.append(element)
            let wake = state.waiter
            state.waiter = nil
            return (dropped, wake)
        }
    }

    /// No more elements: the consumer gets what is buffered, then the end. Returns the
    /// consumer to resume after the caller's locks are released.
    @inlinable
    package func finish() -> Waiter? {
        state.withLock { state in
            state.finished = true
            let wake = state.waiter
            state.waiter = nil
            return wake
        }
    }

    // MARK: Consumer

    /// Everything buffered now, oldest first, without waiting (empty when nothing is, or the
    /// queue ended). For tests and fuzzing, which look at a queue from outside a task.
    package func takeBuffered() -> [Element] {
        if case .batch(let batch) = takeNow() { return batch }
        return []
    }

    /// Everything buffered, oldest first; waits while there is nothing. Nil once the queue
    /// is finished and drained, or the consuming task is cancelled.
    @inlinable
    package func take() async -> [Element]? {
        while true {
            switch takeNow() {
            case .batch(let batch): return batch
            case .end:
                terminate()
                return nil
            case .wait:
                break
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: Waiter) in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.count > 0 || state.finished || state.terminated { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state -> Waiter? in
                    state.terminated = true
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }

    @usableFromInline
    enum Taken {
        case batch([Element])
        case end
        case wait
    }

    @inlinable
    func takeNow() -> Taken {
        state.withLock { state in
            if state.terminated { return .end }
            if state.count > 0 {
                let batch = state.head == 0 ? state.buffer : Array(state.buffer[state.head...])
                state.buffer = []
                state.head = 0
                return .batch(batch)
            }
            return state.finished ? .end : .wait
        }
    }

    /// The consumer is gone: drop what is buffered and run the termination handler once.
    @inlinable
    package func terminate() {
        let (handler, waiter) = state.withLock { state -> ((@Sendable () -> Void)?, Waiter?) in
            state.terminated = true
            state.buffer = []
            state.head = 0
            defer {
                state.onTermination = nil
                state.waiter = nil
            }
            return (state.onTermination, state.waiter)
        }
        waiter?.resume()
        handler?()
    }
}
