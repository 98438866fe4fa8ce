/// Why the hub closes a connection with 1008.
package enum HubRefusal: Sendable, Hashable {
    /// A wrong agent token (logged as ``HubEvent/agentRefused(peer:reason:)``).
    case agentToken(String)
    /// A message the connection may not send (``PeerAccess``, a claim on another agent's sensor).
    case violation(String)
    /// A per-connection limit (``HubLimits``).
    case limit(String)

    /// The close frame's reason.
    package var reason: String {
        switch self {
        case .agentToken(let reason), .violation(let reason), .limit(let reason): reason
        }
    }
}
