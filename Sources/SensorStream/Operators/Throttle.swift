extension SensorStreamSequence {
    /// Emits at most one element per `interval`: the first of each window, or with
    /// `latest: true` the most recent. Pull-driven, with no task or timer: a window's element
    /// is emitted when the next element after the window arrives, or when the base ends.
    ///
    /// ```swift
    /// for await reading in client.readings("CE7238J").throttle(for: .seconds(1), latest: true) { ... }
    /// ```
    ///
    /// - Parameters:
    ///   - interval: The shortest time between two emitted elements.
    ///   - clock: The clock to measure on (tests pass a manual one).
    ///   - latest: Emit the newest element of a window (true) or its first (false).
    /// - Returns: The throttled sequence.
    public func throttle<C: Clock>(for interval: C.Duration, clock: C, latest: Bool = true) -> ThrottledSequence<Self, C> {
        ThrottledSequence(base: self, interval: interval, clock: clock, latest: latest)
    }

    /// ``throttle(for:clock:latest:)`` on the continuous clock.
    /// - Parameters:
    ///   - interval: The shortest time between two emitted elements.
    ///   - latest: Emit the newest element of a window (true) or its first (false).
    /// - Returns: The throttled sequence.
    public func throttle(for interval: Duration, latest: Bool = true) -> ThrottledSequence<Self, ContinuousClock> {
        throttle(for: interval, clock: ContinuousClock(), latest: latest)
    }
}

/// The sequence returned by ``SensorStreamSequence/throttle(for:clock:latest:)``.
public struct ThrottledSequence<Base: AsyncSequence, C: Clock>: AsyncSequence {
    /// The base's element.
    public typealias Element = Base.Element
    /// The base's error, thrown as the base throws it.
    public typealias Failure = Base.Failure
    let base: Base
    let interval: C.Duration
    let clock: C
    let latest: Bool

    /// Creates the iterator.
    public func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), interval: interval, clock: clock, latest: latest)
    }

    /// The iterator; not `Sendable`, like its base's.
    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let interval: C.Duration
        let clock: C
        let latest: Bool
        var lastEmission: C.Instant?
        var finished = false

        /// The next element the throttle lets through; nil at the end. Throws what the base threw.
        public mutating func next() async throws(Failure) -> Element? {
            try await next(isolation: nil)
        }

        /// ``next()``, reading the base on the caller's actor.
        /// - Parameter actor: The caller's actor (the `for await` loop passes it).
        /// - Returns: As ``next()``.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(Failure) -> Element? {
            guard !finished else { return nil }
            var pending: Element?
            while true {
                let element: Element?
                do {
                    element = try await base.next(isolation: actor)
                } catch {
                    finished = true
                    throw error
                }
                guard let element else {
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

extension ThrottledSequence: Sendable where Base: Sendable {}

@available(*, unavailable)
extension ThrottledSequence.Iterator: Sendable {}
