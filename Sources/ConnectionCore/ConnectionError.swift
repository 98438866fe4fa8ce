import TCPTransport

/// Why opening a connection failed.
package enum ConnectFailure: Error, Sendable, CustomStringConvertible {
    /// Name resolution or TCP connect failed (refused, unreachable ...).
    case socket(SocketError)
    /// TCP connect plus handshake did not finish before the deadline.
    case timedOut
    /// The opening task was cancelled.
    case cancelled
    /// The peer closed the connection during the handshake.
    case closedDuringHandshake
    /// The handshake was refused or malformed; the protocol's own error.
    case handshake(any Error & Sendable)

    package var description: String {
        switch self {
        case .socket(let error): "\(error)"
        case .timedOut: "timed out"
        case .cancelled: "cancelled"
        case .closedDuringHandshake: "connection closed during the handshake"
        case .handshake(let error): "handshake failed: \(error)"
        }
    }
}

/// Why sending on an open connection failed.
package enum ConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The connection is closing or closed: nothing more can be sent.
    case closed
    /// The socket failed.
    case transportFailed(SocketError)
    /// More than the outbound high-water mark is queued; nothing was queued (`sendNow` only).
    case outboundFull
    /// The codec refused the message (e.g. a control payload too long).
    case rejected(String)
    /// The protocol has no liveness probe.
    case probeUnsupported
    /// The task waiting (for the output to drain) was cancelled; what it sent stays queued.
    case cancelled

    package var description: String {
        switch self {
        case .closed: "connection closed"
        case .transportFailed(let error): "connection lost: \(error)"
        case .outboundFull: "outbound buffer full"
        case .rejected(let why): "message rejected: \(why)"
        case .probeUnsupported: "the protocol has no liveness probe"
        case .cancelled: "cancelled"
        }
    }
}
