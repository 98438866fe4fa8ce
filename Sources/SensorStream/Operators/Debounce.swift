import Locking

extension AsyncSequence where Self: Sendable, Element: Sendable {
    /// Emits an element only once `interval` has passed without a newer one; the last
    /// element is emitted when the base ends.
    ///
    /// ```swift
    /// for await reading in client.readings("CE7238J").debounce(for: .milliseconds(300)) { ... }
    /// ```
    public func debounce<C: Clock>(for interval: C.Duration, clock: C) -> AsyncDebounceSequence<Self, C> {
        AsyncDebounceSequence(base: self, interval: interval, clock: clock)
    }

    /// ``debounce(for:clock:)`` on the continuous clock.
    public func debounce(for interval: Duration) -> AsyncDebounceSequence<Self, ContinuousClock> {
        debounce(for: interval, clock: ContinuousClock())
    }
}

/// The sequence returned by `debounce(for:clock:)`.
///
/// Iteration starts a task that reads the base; each element restarts a timer on the clock,
/// and the element is delivered when its timer fires undisturbed. Ending the iteration
/// (or cancelling its task) cancels the reading task.
public struct AsyncDebounceSequence<Base: AsyncSequence & Sendable, C: Clock>: AsyncSequence, Sendable where Base.Element: Sendable {
    public typealias Element = Base.Element
    let base: Base
    let interval: C.Duration
    let clock: C

    /// Creates the iterator (and starts reading the base).
    public func makeAsyncIterator() -> Iterator {
        Iterator(base: TimedRelay.run(base: base, clock: clock) { relay, event in
            switch event {
            case .started:
                break
            case .element(let element):
                relay.arm(after: interval, emitting: element)
            case .finished:
                relay.flushAndFinish()
            }
        }.makeAsyncIterator())
    }

    /// The iterator of a debounced sequence: the quiet-interval elements, in order.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<Element>.Iterator

        /// The next element once the interval passed without a newer one; nil at the end.
        public mutating func next() async -> Element? { await base.next() }
    }
}
