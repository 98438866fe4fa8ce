import ConnectionCore
import TCPTransport
import WebSocketCore

/// Why a WebSocket operation failed.
package enum WebSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The TCP connection could not be opened (refused, unreachable, timed out, name resolution).
    case connectFailed(SocketError)
    /// The opening handshake failed (bad response, timeout, closed early).
    case handshakeFailed(HandshakeError)
    /// The handshake did not finish within the configured time.
    case handshakeTimedOut
    /// TLS could not be set up: the certificate was rejected, the peer does not speak TLS,
    /// or this build has no TLS.
    case tlsFailed(TLSError)
    /// The connection is closed (or closing): nothing more can be sent. Carries how it ended,
    /// once known.
    case closed(WebSocketSession.Closure?)
    /// The socket failed while the connection was open.
    case transportFailed(SocketError)
    /// More than the outbound high-water mark is queued: nothing was queued (`sendNow` only).
    case outboundFull
    /// A ping payload over 125 bytes.
    case invalidControlPayload
    /// The task was cancelled.
    case cancelled

    package var description: String {
        switch self {
        case .connectFailed(let error): "connect failed: \(error)"
        case .handshakeFailed(let error): "handshake failed: \(error)"
        case .handshakeTimedOut: "handshake timed out"
        case .tlsFailed(let error): error.description
        case .closed(let closure): closure.map { "connection closed (\($0.code))" } ?? "connection closed"
        case .transportFailed(let error): "connection lost: \(error)"
        case .outboundFull: "outbound buffer full"
        case .invalidControlPayload: "control frame payload over 125 bytes"
        case .cancelled: "cancelled"
        }
    }
}
