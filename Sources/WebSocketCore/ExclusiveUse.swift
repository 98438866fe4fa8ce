import Synchronization

/// Enforces that one thread at a time uses an object whose state is not locked (a zlib
/// stream): entering while another thread is inside traps, in every build. The owners of such
/// objects (a WebSocket session inside a connection's state) serialize their use with the
/// connection's lock; this makes a broken owner (a session copied and used from two threads)
/// fail loudly at once instead of corrupting memory.
package struct ExclusiveUse: ~Copyable, Sendable {
    private let busy = Atomic<Bool>(false)

    /// A guard, not in use.
    package init() {}

    /// Runs `body` as the one user; traps if another thread is inside.
    @inline(__always)
    package func run<Result, Failure: Error>(_ what: StaticString, _ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let (entered, _) = busy.compareExchange(expected: false, desired: true, ordering: .acquiring)
        if !entered { fatalError("\(what)") }
        defer { busy.store(false, ordering: .releasing) }
        return try body()
    }
}
