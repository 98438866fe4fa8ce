/// Everything a ``FastSlowClient`` call can fail with.
public enum FastSlowClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A setting or argument outside its range (nothing was sent).
    case invalidArgument(String)
    /// ``FastSlowClient/connect()`` was not called yet.
    case notConnected
    /// The connection could not be opened (the first connect).
    case connectionFailed(String)
    /// The connection ended while the request was on the wire (it is not sent again), or the
    /// server broke the protocol.
    case connectionLost(String)
    /// No answer within the request's timeout (reconnects included).
    case timeout
    /// The client was closed.
    case closed
    /// The calling task was cancelled: the call stopped waiting (a request already on the wire
    /// drops the connection, which is reopened, since its answer would hold the line).
    case cancelled

    /// A readable explanation.
    public var description: String {
        switch self {
        case .invalidArgument(let text): "invalid argument: \(text)"
        case .notConnected: "not connected: call connect() first"
        case .connectionFailed(let reason): "connection failed: \(reason)"
        case .connectionLost(let reason): "connection lost: \(reason)"
        case .timeout: "timed out"
        case .closed: "the client is closed"
        case .cancelled: "cancelled"
        }
    }
}

/// Something that happened in a ``FastSlowClient``: its log, as a stream
/// (``FastSlowClient/events``).
public enum FastSlowEvent: Sendable, Hashable, CustomStringConvertible {
    /// Opening a connection; attempt 0 is the app's ``FastSlowClient/connect()``.
    case connecting(attempt: Int)
    /// Connected to the server at this address.
    case connected(String)
    /// An attempt to connect failed.
    case connectFailed(String)
    /// The connection ended, for this reason.
    case connectionLost(String)
    /// The next attempt starts after this delay.
    case reconnecting(in: Duration, attempt: Int)
    /// A request went out.
    case requestSent(FastSlowRequest)
    /// Its answer came back after this round trip.
    case responseReceived(FastSlowAnswer, roundTrip: Duration)
    /// A request failed (timeout, connection lost).
    case requestFailed(FastSlowRequest, FastSlowClientError)
    /// A periodic tick sent nothing: the previous tick's answer had not arrived. `total` counts
    /// the periodic run's skipped ticks so far.
    case tickSkipped(FastSlowRequest, total: Int)
    /// The client was closed.
    case closed(String)

    /// One line of the log, e.g. `response received: fast 19851019T050107.333 (round trip 0.081 ms)`.
    public var description: String {
        switch self {
        case .connecting(let attempt): attempt == 0 ? "connecting" : "connecting (attempt \(attempt))"
        case .connected(let address): "connected to \(address)"
        case .connectFailed(let reason): "connect failed: \(reason)"
        case .connectionLost(let reason): "connection lost: \(reason)"
        case .reconnecting(let delay, let attempt): "reconnecting in \(Self.seconds(delay)) s (attempt \(attempt))"
        case .requestSent(let request): "request sent: \(request)"
        case .responseReceived(let answer, let roundTrip): "response received: \(answer) (round trip \(Self.milliseconds(roundTrip)) ms)"
        case .requestFailed(let request, let error): "request failed: \(request): \(error)"
        case .tickSkipped(let request, let total): "tick skipped: \(request) still waiting for its answer (\(total) skipped)"
        case .closed(let reason): "closed: \(reason)"
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = attoseconds / 1_000_000_000_000_000
        return millis == 0 ? "\(seconds)" : "\(seconds).\(String(millis + 1000).dropFirst())"
    }

    private static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let micros = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        return "\(micros / 1000).\(String(micros % 1000 + 1000).dropFirst())"
    }
}

/// A ``FastSlowClient``'s connection, as the shared core's reconnect machine sees it (the
/// shape of MetricStore's `MetricConnectionState`; the event log ``FastSlowEvent`` says
/// more).
public enum FastSlowConnectionState: Sendable, Hashable {
    /// Not connected yet (``FastSlowClient/connect()`` not called).
    case idle
    /// Opening a connection (attempt 0 is the app's connect).
    case connecting(attempt: Int)
    /// Connected.
    case connected
    /// Lost, or an attempt failed; attempt `attempt` starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration, reason: String)
    /// Closed for good (``FastSlowClient/close()``, or the client was released).
    case closed(reason: String)
}

extension FastSlowConnectionState {
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
