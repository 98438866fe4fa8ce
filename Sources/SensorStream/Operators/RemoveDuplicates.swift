extension SensorStreamSequence where Element: Equatable {
    /// Skips each element equal to the one before it.
    ///
    /// ```swift
    /// for await reading in client.readings("CE7238J").map(\.readings).removeDuplicates() { ... }
    /// ```
    public func removeDuplicates() -> DeduplicatedSequence<Self> {
        DeduplicatedSequence(base: self)
    }
}

/// The sequence returned by ``SensorStreamSequence/removeDuplicates()``.
public struct DeduplicatedSequence<Base: AsyncSequence>: AsyncSequence where Base.Element: Equatable {
    /// The base's element.
    public typealias Element = Base.Element
    /// The base's error, thrown as the base throws it.
    public typealias Failure = Base.Failure
    let base: Base

    /// Creates the iterator.
    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator()) }

    /// The iterator; not `Sendable`, like its base's.
    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var last: Element?

        /// The next element that differs from the previous one; nil at the end. Throws what the base threw.
        public mutating func next() async throws(Failure) -> Element? {
            try await next(isolation: nil)
        }

        /// ``next()``, reading the base on the caller's actor.
        /// - Parameter actor: The caller's actor (the `for await` loop passes it).
        /// - Returns: As ``next()``.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(Failure) -> Element? {
            while let element = try await base.next(isolation: actor) {
                if element != last {
                    last = element
                    return element
                }
            }
            return nil
        }
    }
}

extension DeduplicatedSequence: Sendable where Base: Sendable {}

@available(*, unavailable)
extension DeduplicatedSequence.Iterator: Sendable {}
