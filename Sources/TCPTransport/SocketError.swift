#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Why a socket operation failed, in terms an application can act on.
package enum SocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host name did not resolve (`getaddrinfo` failed).
    case nameResolutionFailed(host: String, reason: String)
    /// Nothing listens on that address and port (ECONNREFUSED).
    case connectionRefused
    /// The connect (or another bounded wait) ran out of time.
    case timedOut
    /// No route to the host or its network (EHOSTUNREACH, ENETUNREACH).
    case unreachable
    /// The peer reset the connection (ECONNRESET, EPIPE).
    case connectionReset
    /// The address is already in use (EADDRINUSE), when binding a listener.
    case addressInUse
    /// The event loop that would run this socket already watches as many descriptors as its
    /// poller can (macOS's `poll(2)`: 10,240), or the kernel refused to watch it.
    case loopFull(limit: Int?)
    /// Any other system call failure.
    case system(call: String, errno: Int32)

    /// Classifies `errno` after a failed `call`.
    package static func fromErrno(_ code: Int32, call: String) -> SocketError {
        switch code {
        case ECONNREFUSED: .connectionRefused
        case ETIMEDOUT: .timedOut
        case EHOSTUNREACH, ENETUNREACH, ENETDOWN, EHOSTDOWN: .unreachable
        case ECONNRESET, EPIPE, ECONNABORTED: .connectionReset
        case EADDRINUSE: .addressInUse
        default: .system(call: call, errno: code)
        }
    }

    package var description: String {
        switch self {
        case .nameResolutionFailed(let host, let reason): "cannot resolve \(host): \(reason)"
        case .connectionRefused: "connection refused"
        case .timedOut: "timed out"
        case .unreachable: "host unreachable"
        case .connectionReset: "connection reset by peer"
        case .addressInUse: "address already in use"
        case .loopFull(let limit?): "the event loop already watches its limit of \(limit) descriptors"
        case .loopFull(nil): "the event loop could not watch the socket"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
