// The public signatures of swift-async-algorithms 1.0 that collide with SensorStream's
// operators (`debounce`, `throttle`, `removeDuplicates` on every AsyncSequence, and their
// sequence types), declared here because the package takes no dependencies. Only the
// signatures matter: OperatorCoexistenceTests imports this module beside SensorStream, as an
// app importing AsyncAlgorithms would, and checks every call resolves without ambiguity.
// The bodies pass elements through unchanged.

extension AsyncSequence {
    public func debounce<C: Clock>(
        for interval: C.Instant.Duration, tolerance: C.Instant.Duration? = nil, clock: C
    ) -> AsyncDebounceSequence<Self, C> where Self: Sendable, Self.Element: Sendable {
        AsyncDebounceSequence(base: self)
    }

    public func debounce(
        for interval: Duration, tolerance: Duration? = nil
    ) -> AsyncDebounceSequence<Self, ContinuousClock> where Self: Sendable, Self.Element: Sendable {
        AsyncDebounceSequence(base: self)
    }

    public func throttle<C: Clock, Reduced>(
        for interval: C.Instant.Duration, clock: C, reducing: @Sendable @escaping (Reduced?, Element) async -> Reduced
    ) -> AsyncThrottleSequence<Self, C, Reduced> {
        AsyncThrottleSequence(base: self, reducing: reducing)
    }

    public func throttle<Reduced>(
        for interval: Duration, reducing: @Sendable @escaping (Reduced?, Element) async -> Reduced
    ) -> AsyncThrottleSequence<Self, ContinuousClock, Reduced> {
        AsyncThrottleSequence(base: self, reducing: reducing)
    }

    public func throttle<C: Clock>(
        for interval: C.Instant.Duration, clock: C, latest: Bool = true
    ) -> AsyncThrottleSequence<Self, C, Element> {
        AsyncThrottleSequence(base: self) { previous, element in latest ? element : (previous ?? element) }
    }

    public func throttle(
        for interval: Duration, latest: Bool = true
    ) -> AsyncThrottleSequence<Self, ContinuousClock, Element> {
        AsyncThrottleSequence(base: self) { previous, element in latest ? element : (previous ?? element) }
    }

    public func removeDuplicates(
        by predicate: @escaping @Sendable (Element, Element) async -> Bool
    ) -> AsyncRemoveDuplicatesSequence<Self> {
        AsyncRemoveDuplicatesSequence(base: self)
    }

    public func removeDuplicates(
        by predicate: @escaping @Sendable (Element, Element) async throws -> Bool
    ) -> AsyncThrowingRemoveDuplicatesSequence<Self> {
        AsyncThrowingRemoveDuplicatesSequence(base: self)
    }
}

extension AsyncSequence where Element: Equatable {
    public func removeDuplicates() -> AsyncRemoveDuplicatesSequence<Self> {
        AsyncRemoveDuplicatesSequence(base: self)
    }
}

public struct AsyncDebounceSequence<Base: AsyncSequence & Sendable, C: Clock>: AsyncSequence, Sendable where Base.Element: Sendable {
    public typealias Element = Base.Element
    let base: Base
    public func makeAsyncIterator() -> Base.AsyncIterator { base.makeAsyncIterator() }
}

public struct AsyncThrottleSequence<Base: AsyncSequence, C: Clock, Reduced>: AsyncSequence {
    public typealias Element = Reduced
    let base: Base
    let reducing: @Sendable (Reduced?, Base.Element) async -> Reduced

    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), reducing: reducing) }

    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let reducing: @Sendable (Reduced?, Base.Element) async -> Reduced

        public mutating func next() async throws -> Reduced? {
            guard let element = try await base.next() else { return nil }
            return await reducing(nil, element)
        }
    }
}

public struct AsyncRemoveDuplicatesSequence<Base: AsyncSequence>: AsyncSequence {
    public typealias Element = Base.Element
    let base: Base
    public func makeAsyncIterator() -> Base.AsyncIterator { base.makeAsyncIterator() }
}

public struct AsyncThrowingRemoveDuplicatesSequence<Base: AsyncSequence>: AsyncSequence {
    public typealias Element = Base.Element
    let base: Base
    public func makeAsyncIterator() -> Base.AsyncIterator { base.makeAsyncIterator() }
}
