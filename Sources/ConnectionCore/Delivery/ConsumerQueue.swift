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
/// Two policies when the buffer is full: *newest* (the default) drops the oldest element and
/// says so; *lossless* drops nothing: the producer asks ``hasRoom`` before pushing and, when
/// there is none, waits in ``waitForRoom()`` until the consumer takes the buffer (or goes away).
///
/// The receive path may push under its own lock; a consumer to wake is returned, not resumed,
/// so the caller resumes it after releasing its locks.
///
/// The hot methods are `@inlinable`, so a client module specializes them for its element type
/// (a generic queue called across modules otherwise looks up metadata and copies elements
/// through witness tables on every push). That takes the type being `@usableFromInline` too:
/// the compiler serializes no `@inlinable` body of a plain `package` type, silently (until
/// 2026-12-06 none was, and a client's profile showed the runtime instantiating metadata on
/// every push).
@usableFromInline
package final class ConsumerQueue<Element: Sendable>: Sendable {
    @usableFromInline package typealias Waiter = CheckedContinuation<Void, Never>

    /// How many elements wait at most; beyond it the oldest is dropped (newest policy) or the
    /// producer waits (lossless).
    @usableFromInline package let capacity: Int
    /// Whether the producer waits for room instead of dropping the oldest element.
    @usableFromInline package let isLossless: Bool
    @usableFromInline let state: LockedValue<State>

    @usableFromInline
    struct State: Sendable {
        @usableFromInline var buffer: [Element] = []
        @usableFromInline var head = 0
        /// No more elements will be pushed (the buffered ones are still delivered).
        @usableFromInline var finished = false
        /// The consumer went away (cancelled, or its iterator was dropped).
        @usableFromInline var terminated = false
        @usableFromInline var waiter: Waiter?
        /// The producer waiting for room (lossless policy).
        @usableFromInline var producer: Waiter?
        @usableFromInline var onTermination: (@Sendable () -> Void)?

        @usableFromInline var count: Int { buffer.count - head }

        /// Room for one more element, or no consumer to wait for any more.
        @usableFromInline var hasRoom: Bool { count < capacity || finished || terminated }
        @usableFromInline let capacity: Int

        @usableFromInline init(capacity: Int) { self.capacity = capacity }
    }

    /// A queue buffering up to `capacity` elements (at least 1).
    /// - Parameters:
    ///   - capacity: The buffer's size.
    ///   - lossless: Make the producer wait for room instead of dropping the oldest element.
    package init(capacity: Int, lossless: Bool = false) {
        self.capacity = max(1, capacity)
        isLossless = lossless
        state = LockedValue(State(capacity: max(1, capacity)))
    }

    /// Whether a push now keeps every element: the buffer has room, or the queue ended (a push
    /// is then ignored). The producer of a lossless queue asks before pushing.
    @inlinable
    package var hasRoom: Bool { state.withLock { $0.hasRoom } }

    /// How many elements wait for the consumer.
    package var count: Int { state.withLock { $0.count } }

    /// Whether the consumer went away (``terminate()``): pushes are ignored.
    package var isTerminated: Bool { state.withLock { $0.terminated } }

    /// Whether the producer waits for room now.
    package var isProducerWaiting: Bool { state.withLock { $0.producer != nil } }

    /// Waits until ``hasRoom``: the consumer took the buffer, went away, or the queue finished.
    /// Returns at once if there is room, and when the calling task is cancelled.
    package func waitForRoom() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.hasRoom || Task.isCancelled { return true }
                    state.producer = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let producer = state.withLock { state -> Waiter? in
                defer { state.producer = nil }
                return state.producer
            }
            producer?.resume()
        }
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
            if state.count >= capacity && !isLossless {
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

    /// No more elements: the consumer gets what is buffered, then the end; a waiting producer
    /// goes on. Returns whom to resume after the caller's locks are released.
    @inlinable
    package func finish() -> Wakeups {
        state.withLock { state in
            state.finished = true
            defer {
                state.waiter = nil
                state.producer = nil
            }
            return Wakeups(consumer: state.waiter, producer: state.producer)
        }
    }

    /// The consumer and producer a change released, resumed by ``resume()`` outside every lock.
    @usableFromInline package struct Wakeups: Sendable {
        @usableFromInline let consumer: Waiter?
        @usableFromInline let producer: Waiter?

        @usableFromInline init(consumer: Waiter?, producer: Waiter?) {
            self.consumer = consumer
            self.producer = producer
        }

        /// Resumes them.
        package func resume() {
            consumer?.resume()
            producer?.resume()
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
    /// is finished and drained, or the consuming task is cancelled (then at once, even with
    /// elements buffered: a cancelled consumer is gone, and a lossless producer waiting for
    /// it goes on).
    @inlinable
    package func take() async -> [Element]? {
        if Task.isCancelled {
            terminate()
            return nil
        }
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
                let (waiter, producer) = state.withLock { state -> (Waiter?, Waiter?) in
                    state.terminated = true
                    defer {
                        state.waiter = nil
                        state.producer = nil
                    }
                    return (state.waiter, state.producer)
                }
                waiter?.resume()
                producer?.resume()
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
        let (taken, producer) = state.withLock { state -> (Taken, Waiter?) in
            if state.terminated { return (.end, nil) }
            if state.count > 0 {
                let batch = state.head == 0 ? state.buffer : Array(state.buffer[state.head...])
                state.buffer = []
                state.head = 0
                defer { state.producer = nil }
                return (.batch(batch), state.producer)
            }
            return (state.finished ? .end : .wait, nil)
        }
        // Taking the buffer made room: a lossless producer waiting for it goes on.
        producer?.resume()
        return taken
    }

    /// The consumer is gone: drop what is buffered and run the termination handler once.
    /// Returns how many elements were dropped.
    @inlinable
    @discardableResult
    package func terminate() -> Int {
        let (handler, waiter, producer, discarded) = state.withLock { state -> ((@Sendable () -> Void)?, Waiter?, Waiter?, Int) in
            let discarded = state.count
            state.terminated = true
            state.buffer = []
            state.head = 0
            defer {
                state.onTermination = nil
                state.waiter = nil
                state.producer = nil
            }
            return (state.onTermination, state.waiter, state.producer, discarded)
        }
        waiter?.resume()
        producer?.resume()
        handler?()
        return discarded
    }
}
