/// Where a ``LanternClient``'s connection stands.
public enum LanternConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// Opening a connection; attempt 0 is the first.
    case connecting(attempt: Int)
    /// Connected to the control server.
    case connected
    /// The server is down or the connection dropped: the next attempt starts after `delay`.
    case waiting(delay: Duration, reason: String)
    /// Closed by ``LanternClient/close()``; nothing reconnects.
    case closed

    /// `connected`, `connecting (attempt 2)`, `waiting 1 s: connection refused`, `closed`.
    public var description: String {
        switch self {
        case .connecting(let attempt): attempt == 0 ? "connecting" : "connecting (attempt \(attempt))"
        case .connected: "connected"
        case .waiting(let delay, let reason): "waiting \(delay.components.seconds) s: \(reason)"
        case .closed: "closed"
        }
    }
}

/// What a ``LanternClient`` received and did not act on, since it started.
public struct LanternStatistics: Sendable, Hashable {
    /// Commands decoded (built-in and registered).
    public var commands = 0
    /// Records of unknown types, skipped.
    public var unknownSkipped = 0
    /// Records of known types with a malformed value (a wrong length ...), ignored.
    public var malformedIgnored = 0
}

extension LanternConnectionState {
    /// This state in the shape every client shares.
    public var phase: ClientPhase {
        switch self {
        case .connecting(let attempt): .connecting(attempt: attempt)
        case .connected: .connected
        case .waiting(let delay, let reason): .reconnecting(attempt: nil, delay: delay, reason: reason)
        case .closed: .closed(reason: "closed")
        }
    }
}
