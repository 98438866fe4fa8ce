import SensorAgent
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

    /// The sensor and device ids it names.
    package var sensorIDs: [String] {
        switch self {
        case .legacyAgent(.connect(_, let sensors)): sensors
        case .legacyAgent(.data(let id, _)), .legacyAgent(.sensorAdded(let id)), .legacyAgent(.sensorRemoved(let id)): [id]
        case .legacyAgent(.disconnect): []
        case .deviceAgent(.connect(_, _, let devices)): devices.map(\.id)
        case .deviceAgent(.register(_, let device, _)), .deviceAgent(.update(_, let device, _)): [device.id]
        case .deviceAgent(.disconnect(_, let id)), .deviceAgent(.delete(_, let id)), .deviceAgent(.event(_, let id, _, _)): [id]
        case .deviceAgent(.commandResponse): []
        case .app(.subscribe(let id)), .app(.unsubscribe(let id)), .app(.connectionStatus(let id)), .app(.command(_, let id, _, _)): [id]
        case .app(.history(let request)): [request.sensorID]
        case .app: []
        }
    }

    /// The longest sensor id the hub takes (UTF-8 bytes): an id is a name, and a hostile one
    /// of a megabyte per subscription would pin memory the subscription limit does not count.
    package static let maxSensorIDBytes = 256

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
