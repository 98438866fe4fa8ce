extension SensorStreamSequence where Self: Sendable, Element: Sendable {
    /// Emits an element only once `interval` has passed without a newer one; the last
    /// element is emitted when the base ends (or throws, before the error).
    ///
    /// ```swift
    /// for await reading in client.readings("CE7238J").debounce(for: .milliseconds(300)) { ... }
    /// ```
    ///
    /// A consumer slower than the debounced output gets the newest debounced element: the
    /// operator holds at most one element waiting for its quiet interval and one ready.
    ///
    /// - Parameters:
    ///   - interval: The quiet time an element must survive.
    ///   - tolerance: Passed to the clock's `sleep`.
    ///   - clock: The clock to measure on (tests pass a manual one).
    /// - Returns: The debounced sequence.
    public func debounce<C: Clock>(for interval: C.Duration, tolerance: C.Duration? = nil, clock: C) -> DebouncedSequence<Self, C> {
        DebouncedSequence(base: self, interval: interval, tolerance: tolerance, clock: clock)
    }

    /// ``debounce(for:tolerance:clock:)`` on the continuous clock.
    /// - Parameters:
    ///   - interval: The quiet time an element must survive.
    ///   - tolerance: Passed to the clock's `sleep`.
    /// - Returns: The debounced sequence.
    public func debounce(for interval: Duration, tolerance: Duration? = nil) -> DebouncedSequence<Self, ContinuousClock> {
        debounce(for: interval, tolerance: tolerance, clock: ContinuousClock())
    }
}

/// The sequence returned by ``SensorStreamSequence/debounce(for:tolerance:clock:)``.
///
/// Each iterator runs one task (from its first `next()`) that reads the base and sleeps on
/// the clock until the current element's quiet interval ends; ending the iteration (or
/// cancelling its task, or dropping the iterator) cancels that task.
public struct DebouncedSequence<Base: AsyncSequence & Sendable, C: Clock>: AsyncSequence, Sendable where Base.Element: Sendable {
    /// The base's element.
    public typealias Element = Base.Element
    /// The base's error, thrown after the elements before it.
    public typealias Failure = Base.Failure
    let base: Base
    let interval: C.Duration
    let tolerance: C.Duration?
    let clock: C

    /// Creates the iterator; its first `next()` starts reading the base.
    public func makeAsyncIterator() -> Iterator {
        Iterator(relay: TimedRelay(base: base, clock: clock, tolerance: tolerance, rule: DebounceRule(interval: interval)))
    }

    /// The iterator of a debounced sequence: the elements that survived their quiet interval, in order.
    public struct Iterator: AsyncIteratorProtocol {
        private let relay: TimedRelay<Base, C, DebounceRule<Element, C.Instant>>
        private let lifetime: TimedRelayLifetime

        init(relay: TimedRelay<Base, C, DebounceRule<Element, C.Instant>>) {
            self.relay = relay
            lifetime = TimedRelayLifetime { [relay] in relay.cancel() }
        }

        /// The next element once the interval passed without a newer one; nil at the end
        /// (or once the task is cancelled). Throws what the base threw.
        public mutating func next() async throws(Failure) -> Element? {
            try await relay.next()
        }

        /// ``next()`` from an actor.
        /// - Parameter actor: The caller's actor (the `for await` loop passes it).
        /// - Returns: As ``next()``.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(Failure) -> Element? {
            try await relay.next()
        }
    }
}

/// Debounce: each element replaces the pending one and moves the deadline to `interval`
/// after it; the deadline emits the pending element; the end flushes it.
struct DebounceRule<Element: Sendable, Instant: InstantProtocol>: TimedRule {
    let interval: Instant.Duration
    private var pending: Element?

    init(interval: Instant.Duration) {
        self.interval = interval
    }

    func start(at now: Instant) -> Instant? { nil }

    mutating func receive(_ element: Element, at now: Instant) -> (immediate: Element?, deadline: Instant?) {
        pending = element
        return (nil, now.advanced(by: interval))
    }

    mutating func deadlineReached(_ deadline: Instant) -> (due: Element?, next: Instant?) {
        defer { pending = nil }
        return (pending, nil)
    }

    mutating func end() -> Element? {
        defer { pending = nil }
        return pending
    }
}
