import Foundation

/// The kernel interface an ``EventLoop`` waits with.
package enum PollerBackend: String, Sendable, Hashable {
    /// Level-triggered epoll (Linux): O(ready) per wait.
    case epoll
    /// Portable `poll(2)`: O(watched) per wait; the only one on macOS and iOS.
    case poll

    /// The backend every loop of this process uses unless told otherwise: `poll` where epoll
    /// does not exist, and on Linux whatever the environment variable `SENSORSTREAM_POLLER`
    /// says (`poll` or `epoll`; unset or empty: epoll), so the whole test suite can run on the
    /// portable path. Any other value stops the process with a message naming the variable:
    /// a misspelt switch must not quietly test the other backend.
    package static let processDefault: PollerBackend = {
        #if os(Linux)
        let value = ProcessInfo.processInfo.environment["SENSORSTREAM_POLLER"] ?? ""
        if value.isEmpty { return .epoll }
        guard let backend = PollerBackend(rawValue: value) else {
            preconditionFailure("SENSORSTREAM_POLLER must be 'poll' or 'epoll', not '\(value)'")
        }
        return backend
        #else
        return .poll
        #endif
    }()

    /// The most descriptors one `poll(2)` call accepts here, or nil when only the process's
    /// own limit applies: macOS and iOS fail the call with EINVAL above OPEN_MAX (10,240).
    package var descriptorLimit: Int? {
        #if canImport(Darwin)
        self == .poll ? 10_240 : nil
        #else
        nil
        #endif
    }
}
