extension AsyncSequence where Self: Sendable {
    /// Emits at most one element per `interval`: the first of each window, or with
    /// `latest: true` the most recent. Pull-driven: a window's element is emitted when the
    /// next element after the window arrives, or when the base ends.
    ///
    /// ```swift
    /// for await reading in client.readings("CE7238J").throttle(for: .seconds(1), latest: true) { ... }
    /// ```
    public func throttle<C: Clock>(for interval: C.Duration, clock: C, latest: Bool = true) -> AsyncThrottleSequence<Self, C> {
        AsyncThrottleSequence(base: self, interval: interval, clock: clock, latest: latest)
    }

    /// ``throttle(for:clock:latest:)`` on the continuous clock.
    public func throttle(for interval: Duration, latest: Bool = true) -> AsyncThrottleSequence<Self, ContinuousClock> {
        throttle(for: interval, clock: ContinuousClock(), latest: latest)
    }
}

/// The sequence returned by `throttle(for:clock:latest:)`.
public struct AsyncThrottleSequence<Base: AsyncSequence & Sendable, C: Clock>: AsyncSequence, Sendable {
    public typealias Element = Base.Element
    let base: Base
    let interval: C.Duration
    let clock: C
    let latest: Bool

    /// Creates the iterator.
    public func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), interval: interval, clock: clock, latest: latest)
    }

    /// The iterator.
    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let interval: C.Duration
        let clock: C
        let latest: Bool
        var lastEmission: C.Instant?
        var finished = false

        /// The next element the throttle lets through.
        public mutating func next() async throws -> Element? {
            guard !finished else { return nil }
            var pending: Element?
            while true {
                guard let element = try await base.next() else {
                    finished = true
                    return pending
                }
                pending = latest ? element : (pending ?? element)
                let now = clock.now
                if let lastEmission, lastEmission.duration(to: now) < interval { continue }
                lastEmission = now
                return pending
            }
        }
    }
}
