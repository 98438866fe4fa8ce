extension AsyncSequence where Element: Equatable {
    /// Skips each element equal to the one before it.
    ///
    /// ```swift
    /// for await reading in client.readings("CE7238J").map(\.readings).removeDuplicates() { ... }
    /// ```
    public func removeDuplicates() -> AsyncRemoveDuplicatesSequence<Self> {
        AsyncRemoveDuplicatesSequence(base: self)
    }
}

/// The sequence returned by `removeDuplicates()`.
public struct AsyncRemoveDuplicatesSequence<Base: AsyncSequence>: AsyncSequence where Base.Element: Equatable {
    public typealias Element = Base.Element
    let base: Base

    /// Creates the iterator.
    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator()) }

    /// The iterator; not Sendable, like its base.
    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var last: Element?

        /// The next element that differs from the previous one.
        public mutating func next() async throws -> Element? {
            while let element = try await base.next() {
                if element != last {
                    last = element
                    return element
                }
            }
            return nil
        }
    }
}

extension AsyncRemoveDuplicatesSequence: Sendable where Base: Sendable {}
