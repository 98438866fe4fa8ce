/// Everything an ``AgentClient`` call can fail with.
public enum AgentClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The device store refused the change (an invalid device, a failed write ...).
    case store(DeviceStoreError)
    /// No device with this id in the store.
    case unknownDevice(String)
    /// No acknowledgement within the timeout (an event is then dropped).
    case timeout
    /// The hub refused the agent (close 1008: a wrong token): final, nothing reconnects.
    case rejected(String)
    /// ``AgentClient/stop()`` was called, or the agent was released.
    case stopped
    /// The calling task was cancelled: the call stopped waiting (a change stays in the store
    /// and is sent again after the next connect).
    case cancelled

    /// A readable explanation.
    public var description: String {
        switch self {
        case .store(let error): "device store: \(error)"
        case .unknownDevice(let id): "no device \(id)"
        case .timeout: "no acknowledgement in time"
        case .rejected(let reason): "refused by the hub: \(reason)"
        case .stopped: "the agent is stopped"
        case .cancelled: "cancelled"
        }
    }
}

/// Where an ``AgentClient``'s connection stands.
public enum AgentConnectionState: Sendable, Hashable, CustomStringConvertible {
    /// Not started.
    case idle
    /// Opening a connection (attempt 0 is the first).
    case connecting(attempt: Int)
    /// Connected and synchronised with the hub.
    case connected
    /// Down; the next attempt starts after `delay`.
    case waiting(delay: Duration, reason: String)
    /// Refused by the hub (1008): final.
    case rejected(reason: String)
    /// Stopped by ``AgentClient/stop()``.
    case stopped

    /// `connected`, `waiting 1 s: connection refused` ...
    public var description: String {
        switch self {
        case .idle: "idle"
        case .connecting(let attempt): attempt == 0 ? "connecting" : "connecting (attempt \(attempt))"
        case .connected: "connected"
        case .waiting(let delay, let reason): "waiting \(delay): \(reason)"
        case .rejected(let reason): "rejected: \(reason)"
        case .stopped: "stopped"
        }
    }
}

extension AgentConnectionState {
    /// This state in the shape every client shares.
    public var phase: ClientPhase {
        switch self {
        case .idle: .idle
        case .connecting(let attempt): .connecting(attempt: attempt)
        case .connected: .connected
        case .waiting(let delay, let reason): .reconnecting(attempt: nil, delay: delay, reason: reason)
        case .rejected(let reason): .closed(reason: "rejected: \(reason)")
        case .stopped: .closed(reason: "stopped")
        }
    }
}
