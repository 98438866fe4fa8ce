import SensorAgent
import SensorStream
import SensorWire

/// One message a connection sent the hub, classified by protocol (sans-I/O): the legacy agent
/// protocol, the device-agent protocol, or the app protocol. Nil for an envelope of none.
package enum HubMessage: Sendable, Hashable {
    case legacyAgent(AgentMessage)
    case deviceAgent(AgentToHub)
    case app(ClientMessage)

    /// Classifies a decoded envelope (legacy agent messages first: `agent_connect` with a
    /// sensor list is the legacy protocol's, with an agent id and devices the device protocol's).
    package init?(_ envelope: Envelope) {
        if let message = AgentMessage(envelope) {
            self = .legacyAgent(message)
        } else if let message = AgentToHub(envelope) {
            self = .deviceAgent(message)
        } else if let message = ClientMessage(envelope) {
            self = .app(message)
        } else {
            return nil
        }
    }

    /// What ``PeerAccess`` checks it as.
    package var kind: PeerAccess.MessageKind {
        switch self {
        case .legacyAgent: .legacyAgent
        case .deviceAgent: .deviceAgent
        case .app(let message):
            if case .command = message { .app(isCommand: true) } else { .app(isCommand: false) }
        }
    }
}
