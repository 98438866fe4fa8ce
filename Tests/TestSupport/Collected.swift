import Locking

/// Collects what an `AsyncStream` yields (events, states), for assertions that wait.
package final class Collected<Element: Sendable>: Sendable {
    private let elements = LockedValue<[Element]>([])
    private let task: Task<Void, Never>

    package init(_ stream: AsyncStream<Element>) {
        let elements = self.elements
        task = Task { for await element in stream { elements.withLock { $0.append(element) } } }
    }

    /// Everything so far, in order.
    package var all: [Element] { elements.withLock { $0 } }

    /// How many so far match `predicate`.
    package func count(where predicate: (Element) -> Bool) -> Int { all.filter(predicate).count }

    /// Waits (at most `timeout`) until everything so far satisfies `predicate`.
    package func waitFor(timeout: Duration = .seconds(20), _ predicate: @escaping @Sendable ([Element]) -> Bool) async -> Bool {
        await eventually(timeout: timeout) { self.elements.withLock { predicate($0) } }
    }

    /// Waits (at most `timeout`) until `count` elements match `predicate`.
    package func waitFor(count: Int = 1, timeout: Duration = .seconds(20), matching predicate: @escaping @Sendable (Element) -> Bool) async -> Bool {
        await waitFor(timeout: timeout) { $0.filter(predicate).count >= count }
    }

    deinit { task.cancel() }
}

/// Makes a server on a port a stopped one had: another test's connection (the suites run in
/// parallel and share the ephemeral range) may hold the port a moment, so a failed bind is
/// retried for up to `timeout`.
package func rebinding<Server>(timeout: Duration = .seconds(10), _ make: () throws -> Server) async throws -> Server {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            return try make()
        } catch where ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
