/// Everything a ``MetricStoreClient`` call can throw.
public enum MetricStoreClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered `error`, with its text (`wrong command`).
    case serverError(String)
    /// The server's answer is not the protocol (the connection is dropped and reopened).
    case malformedAnswer(String)
    /// No answer within the client's timeout (reconnects included).
    case timeout
    /// The connection could not be opened (refused, unreachable, name resolution ...).
    case connectionFailed(String)
    /// The connection was lost and reconnecting gave up, or the client was closed.
    case connectionLost(String)
    /// A key with whitespace or a newline, or an empty one, or `*` for a put: nothing was sent.
    case invalidKey(String)
    /// A value that is not finite (nan, infinity): nothing was sent.
    case invalidValue(Double)
    /// A range read whose start is after its end: nothing was sent.
    case invalidRange(from: Int, to: Int)
    /// The server does not know this command (it answered `wrong command` to a well-formed
    /// one: a server older than the command); the text names the command.
    case unsupportedByServer(String)
    /// The calling task was cancelled: the call stopped waiting (a command already sent is
    /// still answered, and the answer skipped).
    case cancelled

    /// A readable explanation.
    public var description: String {
        switch self {
        case .serverError(let text): "the server answered: \(text)"
        case .malformedAnswer(let reason): "malformed answer: \(reason)"
        case .timeout: "no answer in time"
        case .connectionFailed(let reason): "connection failed: \(reason)"
        case .connectionLost(let reason): "connection lost: \(reason)"
        case .invalidKey(let key): "invalid key \(key.debugDescription) (1+ characters, no whitespace)"
        case .invalidValue(let value): "invalid value \(value) (must be finite)"
        case .invalidRange(let from, let to): "invalid range: from \(from) is after to \(to)"
        case .unsupportedByServer(let command): "the server does not support \(command) (it answered: wrong command)"
        case .cancelled: "cancelled"
        }
    }
}

/// The client's connection, as the shared core's reconnect machine sees it.
public enum MetricConnectionState: Sendable, Hashable {
    /// Not connected yet (no call made).
    case idle
    /// Opening a connection (attempt 0 is the first).
    case connecting(attempt: Int)
    /// Connected.
    case connected
    /// Lost; attempt `attempt` starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration, reason: String)
    /// Closed for good (``MetricStoreClient/close()``, or reconnecting gave up).
    case closed(reason: String)
}

/// One value to record with `MetricStoreClient.record`.
public struct MetricSample: Sendable, Hashable {
    /// The metric.
    public var key: String
    /// Its value.
    public var value: Double
    /// Unix seconds.
    public var timestamp: Int

    /// A sample.
    /// - Parameters:
    ///   - key: The metric.
    ///   - value: Its value.
    ///   - timestamp: Unix seconds.
    public init(key: String, value: Double, timestamp: Int) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
    }
}

extension MetricConnectionState {
    /// This state in the shape every client shares.
    public var phase: ClientPhase {
        switch self {
        case .idle: .idle
        case .connecting(let attempt): .connecting(attempt: attempt)
        case .connected: .connected
        case .reconnecting(let attempt, let delay, let reason): .reconnecting(attempt: attempt, delay: delay, reason: reason)
        case .closed(let reason): .closed(reason: reason)
        }
    }
}
