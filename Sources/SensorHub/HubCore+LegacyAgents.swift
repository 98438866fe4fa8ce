import SensorWire

extension HubCore {
    /// The legacy agent protocol (`agent_connect` with sensors, `sensor_added`, `sensor_data`,
    /// `sensor_removed`, `agent_disconnect`), already checked against the role and token: a
    /// claim on a sensor another connected agent serves is refused whole.
    mutating func handleLegacyAgent(_ message: AgentMessage, from peer: PeerID, into effects: inout HubEffects) {
        switch message {
        case .connect(let name, let sensors):
            if let taken = sensors.first(where: { !mayClaimLegacy($0, by: peer) }) {
                refuse(.violation("sensor \(taken) belongs to another agent"), into: &effects)
                return
            }
            effects.events.append(.agentConnected(peer: peer, name: name, sensors: sensors))
            if peers[peer] != nil { agents.insert(peer) }
            effects.deliveries += state.agentConnected(peer, sensors: sensors)
        case .data(let id, let readings):
            if let delivery = state.reading(id, readings, from: peer) { effects.deliveries.append(delivery) }
            if recordsReadings, state.serves(id, by: peer) { effects.accepted.append(HubEffects.AcceptedReading(sensorID: id, readings: readings)) }
        case .sensorAdded(let id):
            guard mayClaimLegacy(id, by: peer) else {
                refuse(.violation("sensor \(id) belongs to another agent"), into: &effects)
                return
            }
            // In-process agents are not connections: they stay out of the count.
            if peers[peer] != nil { agents.insert(peer) }
            effects.deliveries += state.sensorAdded(id, by: peer)
        case .sensorRemoved(let id):
            effects.deliveries += state.sensorRemoved(id, by: peer)
        case .disconnect:
            agents.remove(peer)
            effects.deliveries += state.agentGone(peer)
        }
    }

    /// Whether a legacy agent may claim `id`: no other agent serves it, and it is not a
    /// registered device of a connected device agent.
    func mayClaimLegacy(_ id: String, by peer: PeerID) -> Bool {
        state.mayClaim(id, by: peer) && !devices.isHeld(id)
    }
}
