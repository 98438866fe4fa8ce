#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Which ``EventLoop`` the calling thread runs, if any: a thread-specific value each loop sets
/// once on its own thread. Reading it takes no lock, so loop confinement is checked in release
/// builds as well.
enum LoopThreadMarker {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key, nil)
        precondition(result == 0, "Internal inconsistency: pthread_key_create failed: \(result)")
        return key
    }()

    /// Whether this thread runs `loop`.
    static func isCurrent(_ loop: AnyObject) -> Bool {
        pthread_getspecific(key).map(UnsafeRawPointer.init) == UnsafeRawPointer(Unmanaged.passUnretained(loop).toOpaque())
    }

    /// Marks this thread as the one running `loop`, for the rest of its life.
    static func mark(_ loop: AnyObject) {
        pthread_setspecific(key, UnsafeRawPointer(Unmanaged.passUnretained(loop).toOpaque()))
    }
}
