/// Where a client's connection stands, in the shape every client of this package shares.
///
/// Each client keeps its own state type (``ClientPhase`` adds nothing to them); each has a
/// `phase` that maps it here, so an app that runs several clients can show or handle them alike:
/// `for await phase in client.connectionStates.map(\.phase) { ... }`.
public enum ClientPhase: Sendable, Hashable, CustomStringConvertible {
    /// Not started yet.
    case idle
    /// Opening a connection: attempt 0 is the first, n >= 1 the n-th after a loss.
    case connecting(attempt: Int)
    /// Connected (and, for the clients with a session, the session replayed).
    case connected
    /// Down: the next attempt starts after `delay` (its number, when the client counts them).
    /// `reason` says what ended the last connection or attempt.
    case reconnecting(attempt: Int?, delay: Duration, reason: String)
    /// Ended for good (stopped by the app, released, refused, or reconnecting gave up):
    /// nothing reconnects.
    case closed(reason: String)

    /// Whether the client is done: ``closed(reason:)``.
    public var isClosed: Bool {
        if case .closed = self { true } else { false }
    }

    /// `connected`, `reconnecting in 2 s (attempt 3): connection refused`, `closed: stopped` ...
    public var description: String {
        switch self {
        case .idle: "idle"
        case .connecting(let attempt): attempt == 0 ? "connecting" : "connecting (attempt \(attempt))"
        case .connected: "connected"
        case .reconnecting(let attempt, let delay, let reason):
            "reconnecting in \(delay)" + (attempt.map { " (attempt \($0))" } ?? "") + ": \(reason)"
        case .closed(let reason): "closed: \(reason)"
        }
    }
}
