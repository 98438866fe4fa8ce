#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// A value protected by a `pthread_mutex_t`.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on raw futexes, which
/// ThreadSanitizer cannot see, so every access it protects is reported as a race and
/// `swift test --sanitize=thread` becomes useless. pthread mutexes are intercepted by TSan,
/// and cost the same uncontended (one atomic operation each way).
///
/// `@unchecked Sendable` is sound here: the value is only reachable through ``withLock(_:)``.
///
/// `@usableFromInline`, so that ``withLock(_:)``'s `@inlinable` body reaches other modules
/// (a plain `package` type's inlinable bodies are silently not serialized).
@usableFromInline
package final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Do not call back into this lock from
    /// `body`: it is not recursive.
    @inlinable
    package func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock()
        defer { unlock() }
        return try body(&valueStorage)
    }

    @usableFromInline
    var valueStorage: Value {
        _read { yield value }
        _modify { yield &value }
    }

    @usableFromInline
    func lock() { pthread_mutex_lock(mutex) }

    @usableFromInline
    func unlock() { pthread_mutex_unlock(mutex) }
}
