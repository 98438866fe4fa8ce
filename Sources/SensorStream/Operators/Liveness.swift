extension AsyncSequence where Self: Sendable, Element: Sendable {
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
    public func liveness<C: Clock>(timeout: C.Duration, clock: C) -> AsyncLivenessSequence<Self, C> {
        AsyncLivenessSequence(base: self, timeout: timeout, clock: clock)
    }

    /// ``liveness(timeout:clock:)`` on the continuous clock.
    public func liveness(timeout: Duration) -> AsyncLivenessSequence<Self, ContinuousClock> {
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

/// The sequence returned by `liveness(timeout:clock:)`.
public struct AsyncLivenessSequence<Base: AsyncSequence & Sendable, C: Clock>: AsyncSequence, Sendable where Base.Element: Sendable {
    public typealias Element = Liveness<Base.Element, C.Duration>
    let base: Base
    let timeout: C.Duration
    let clock: C

    /// Creates the iterator (and starts reading the base and the watchdog).
    public func makeAsyncIterator() -> Iterator {
        let timeout = timeout
        let stream = TimedRelay<Element, C>.run(base: base, clock: clock) { relay, event in
            switch event {
            case .started:
                relay.armRepeating(every: timeout) { count in .silent(since: timeout * count) }
            case .element(let element):
                relay.emit(.element(element))
                relay.armRepeating(every: timeout) { count in .silent(since: timeout * count) }
            case .finished:
                relay.finish()
            }
        }
        return Iterator(base: stream.makeAsyncIterator())
    }

    /// The iterator of a liveness sequence: elements and silences, in order.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<Element>.Iterator

        /// The next element or silence; nil once the base sequence ended.
        public mutating func next() async -> Element? { await base.next() }
    }
}
