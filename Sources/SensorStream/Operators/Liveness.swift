extension SensorStreamSequence where Self: Sendable, Element: Sendable {
    /// Watches for silence: passes every element through as `.element`, and emits
    /// `.silent(since:)` each time `timeout` passes without one (again after every further
    /// `timeout` of silence). A per-sensor liveness watchdog, separate from the connection's
    /// heartbeat:
    ///
    /// ```swift
    /// for await event in client.readings("CE7238J").liveness(timeout: .seconds(5)) {
    ///     switch event {
    ///     case .element(let reading): show(reading)
    ///     case .silent(let duration): warn("no reading for \(duration)")
    ///     }
    /// }
    /// ```
    ///
    /// Bounded: the operator reads the next element only once the consumer took the previous
    /// one (so the base's buffering policy, e.g. the client's `bufferingNewest`, decides what
    /// a slow consumer loses), and an untaken silence is replaced by the longer one after it.
    ///
    /// - Parameters:
    ///   - timeout: How long a silence is worth reporting.
    ///   - clock: The clock to measure on (tests pass a manual one).
    /// - Returns: The elements and silences.
    public func liveness<C: Clock>(timeout: C.Duration, clock: C) -> LivenessSequence<Self, C> {
        LivenessSequence(base: self, timeout: timeout, clock: clock)
    }

    /// ``liveness(timeout:clock:)`` on the continuous clock.
    /// - Parameter timeout: How long a silence is worth reporting.
    /// - Returns: The elements and silences.
    public func liveness(timeout: Duration) -> LivenessSequence<Self, ContinuousClock> {
        liveness(timeout: timeout, clock: ContinuousClock())
    }
}

/// An element, or the news that none came for a while.
public enum Liveness<Element: Sendable, Interval: Sendable & Equatable>: Sendable {
    /// An element of the base sequence.
    case element(Element)
    /// No element for this long (a multiple of the timeout).
    case silent(since: Interval)
}

extension Liveness: Equatable where Element: Equatable {}

/// The sequence returned by ``SensorStreamSequence/liveness(timeout:clock:)``.
///
/// Each iterator runs one task (from its first `next()`) that reads the base and sleeps on
/// the clock until the next silence is due; ending the iteration (or cancelling its task,
/// or dropping the iterator) cancels that task.
public struct LivenessSequence<Base: AsyncSequence & Sendable, C: Clock>: AsyncSequence, Sendable where Base.Element: Sendable {
    /// An element of the base, or a silence.
    public typealias Element = Liveness<Base.Element, C.Duration>
    /// The base's error, thrown after the elements before it.
    public typealias Failure = Base.Failure
    let base: Base
    let timeout: C.Duration
    let clock: C

    /// Creates the iterator; its first `next()` starts reading the base and the watchdog.
    public func makeAsyncIterator() -> Iterator {
        Iterator(relay: TimedRelay(base: base, clock: clock, tolerance: nil, rule: LivenessRule(timeout: timeout)))
    }

    /// The iterator of a liveness sequence: elements and silences, in order.
    public struct Iterator: AsyncIteratorProtocol {
        private let relay: TimedRelay<Base, C, LivenessRule<Base.Element, C.Instant>>
        private let lifetime: TimedRelayLifetime

        init(relay: TimedRelay<Base, C, LivenessRule<Base.Element, C.Instant>>) {
            self.relay = relay
            lifetime = TimedRelayLifetime { [relay] in relay.cancel() }
        }

        /// The next element or silence; nil once the base ended (or the task is cancelled).
        /// Throws what the base threw.
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

/// Liveness: elements pass at once and restart the watchdog; each deadline reports the
/// silence so far and arms the next one `timeout` later.
struct LivenessRule<Element: Sendable, Instant: InstantProtocol>: TimedRule where Instant.Duration: Sendable {
    let timeout: Instant.Duration
    /// Silences reported since the last element.
    private var silences = 0

    init(timeout: Instant.Duration) {
        self.timeout = timeout
    }

    func start(at now: Instant) -> Instant? { now.advanced(by: timeout) }

    mutating func receive(_ element: Element, at now: Instant) -> (immediate: Liveness<Element, Instant.Duration>?, deadline: Instant?) {
        silences = 0
        return (.element(element), now.advanced(by: timeout))
    }

    mutating func deadlineReached(_ deadline: Instant) -> (due: Liveness<Element, Instant.Duration>?, next: Instant?) {
        silences += 1
        return (.silent(since: timeout * silences), deadline.advanced(by: timeout))
    }

    func end() -> Liveness<Element, Instant.Duration>? { nil }
}
