/// Where a ``SensorClient``'s connection stands. Observe it with
/// ``SensorClient/connectionStates``.
public enum ConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// `connect()` has not been called yet.
    case idle
    /// Opening the WebSocket: `attempt` 0 is ``SensorClient/connect()``, n >= 1 the n-th
    /// reconnect attempt.
    case connecting(attempt: Int)
    /// Open: `client_connect` and every active subscription have been sent.
    case connected
    /// The connection was lost; attempt number `attempt` starts after `delay`.
    /// `reason` says what ended the previous connection (close code, error).
    case reconnecting(attempt: Int, delay: Duration, reason: DisconnectReason)
    /// Ended for good: by ``SensorClient/disconnect()`` or after the last reconnect attempt
    /// allowed by the configuration. Every stream has finished.
    case disconnected(reason: DisconnectReason)

    /// A readable form, e.g. "reconnecting in 3 s (attempt 4) after close 1006: connection lost".
    public var description: String {
        switch self {
        case .idle: "idle"
        case .connecting(let attempt): attempt == 0 ? "connecting" : "connecting (reconnect attempt \(attempt))"
        case .connected: "connected"
        case .reconnecting(let attempt, let delay, let reason):
            "reconnecting in \(delay.formattedSeconds) (attempt \(attempt)) after \(reason)"
        case .disconnected(let reason): "disconnected (\(reason))"
        }
    }
}

/// Why a connection ended.
public struct DisconnectReason: Sendable, Hashable, CustomStringConvertible {
    /// The WebSocket close code, when the server sent a close frame (1006 when the
    /// connection dropped without one), nil when it never opened.
    public let closeCode: Int?
    /// A readable explanation: the close reason, the socket error, "heartbeat timed out" ...
    public let message: String

    /// Creates a reason.
    /// - Parameters:
    ///   - closeCode: The WebSocket close code, if there was one.
    ///   - message: What happened, readable.
    public init(closeCode: Int?, message: String) {
        self.closeCode = closeCode
        self.message = message
    }

    /// "close 1006: connection lost", or just the message without a close code.
    public var description: String {
        closeCode.map { "close \($0)" + (message.isEmpty ? "" : ": \(message)") } ?? message
    }
}

extension Duration {
    /// "1.5 s", "250 ms".
    var formattedSeconds: String {
        let milliseconds = seconds * 1000
        if milliseconds < 1000 { return "\(Int(milliseconds.rounded())) ms" }
        let seconds = (milliseconds / 100).rounded() / 10
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}

extension ConnectionState {
    /// This state in the shape every client shares.
    public var phase: ClientPhase {
        switch self {
        case .idle: .idle
        case .connecting(let attempt): .connecting(attempt: attempt)
        case .connected: .connected
        case .reconnecting(let attempt, let delay, let reason): .reconnecting(attempt: attempt, delay: delay, reason: reason.description)
        case .disconnected(let reason): .closed(reason: reason.description)
        }
    }
}
