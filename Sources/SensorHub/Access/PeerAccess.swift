/// What one connection may send, sans-I/O: its credential from the upgrade request
/// (``HubAccessPolicy/Credential``) and its role, decided once by its first message (or by
/// its credential: an app token makes an app, the agent token an agent).
///
/// A message of the other role is a violation (the hub closes with 1008 and applies nothing
/// of it). So is a legacy agent message when the legacy protocol is off, or when the hub has
/// an agent token and the connection did not present it in its upgrade request (the legacy
/// protocol has no token of its own). A device agent without that credential authenticates
/// with the token in its `connect`, checked by the hub. A command beyond an app's right is
/// forbidden (answered 403, the connection stays).
package struct PeerAccess: Sendable, Hashable {
    /// The two roles a connection can have.
    package enum Role: Sendable, Hashable {
        case app
        case agent
    }

    /// Which protocol a message belongs to.
    package enum MessageKind: Sendable, Hashable {
        /// The app protocol; a command needs ``AppRight/command``.
        case app(isCommand: Bool)
        /// The device-agent protocol (`agent_connect` with an agent id, `device_*`).
        case deviceAgent
        /// The legacy agent protocol (`agent_connect` with sensors, `sensor_added`, `sensor_data`).
        case legacyAgent
    }

    /// What to do with a message.
    package enum Verdict: Sendable, Hashable {
        case allow
        /// Close with 1008 for this reason; nothing of the message is applied.
        case violation(String)
        /// Answer 403 (a command without the right); the connection stays.
        case forbidden(String)
    }

    /// What the upgrade request proved.
    package let credential: HubAccessPolicy.Credential
    /// The role, once decided.
    package private(set) var role: Role?

    /// A connection admitted with `credential`.
    package init(credential: HubAccessPolicy.Credential) {
        self.credential = credential
        switch credential {
        case .none: role = nil
        case .app: role = .app
        case .agent: role = .agent
        }
    }

    /// The right of an app connection: its token's, or every right on a hub without app tokens.
    package var appRight: AppRight {
        if case .app(let right) = credential { return right }
        return .admin
    }

    /// Checks a message against the role (deciding it on the first message) and `policy`.
    package mutating func check(_ kind: MessageKind, policy: HubAccessPolicy) -> Verdict {
        let wanted: Role
        switch kind {
        case .app: wanted = .app
        case .deviceAgent, .legacyAgent: wanted = .agent
        }
        if let role, role != wanted {
            return .violation(role == .app ? "an app sent an agent message" : "an agent sent an app message")
        }
        switch kind {
        case .legacyAgent:
            guard policy.legacyAgents else { return .violation("the legacy agent protocol is turned off") }
            if policy.agentToken != nil && credential != .agent {
                return .violation("legacy agent messages need the agent token in the upgrade request")
            }
        case .app(let isCommand):
            if isCommand && appRight < .command { return .forbidden("this token may not send commands") }
        case .deviceAgent:
            break
        }
        role = wanted
        return .allow
    }
}
