import SensorAgent
import SensorWire

extension HubCore {
    /// The device-agent protocol, already checked against the role and token: registry
    /// changes and their acks (replies to the agent), what apps see (statuses, readings),
    /// command answers. A device another agent's connection serves is refused with 409.
    mutating func handleDeviceAgent(_ message: AgentToHub, from peer: PeerID, into effects: inout HubEffects) {
        func ack(_ id: String, _ outcome: DeviceRegistry.Outcome) {
            effects.replies.append(SensorProtocol.encode(HubToAgent.ack(requestID: id, status: outcome.status, error: outcome.error).envelope))
        }
        switch message {
        case .connect(let agentID, _, let digests):
            if let current = devices.agentID(of: peer), current != agentID {
                refuse(.violation("a connection speaks for one agent id (\(current))"), into: &effects)
                return
            }
            effects.events.append(.agentConnected(peer: peer, name: agentID, sensors: digests.map(\.id)))
            agents.insert(peer)
            var sync = devices.agentConnected(peer, agentID: agentID, devices: digests)
            if let previous = sync.previous { supersededAgents[previous] = agentID }
            // A device this agent registered before, served meanwhile by another agent's
            // connection (a legacy agent claimed the id while this agent was away): that agent
            // keeps it, and the registry says so.
            for id in sync.connected where !mayServe(id, peer: peer, agentID: agentID) { devices.markDisconnected(id) }
            sync.connected.removeAll { !mayServe($0, peer: peer, agentID: agentID) }
            for id in sync.connected { effects.deliveries += state.sensorAdded(id, by: peer, replacing: true) }
            for id in sync.disconnected {
                // Owned by this agent's previous connection, or by this one.
                effects.deliveries += state.sensorRemoved(id, by: state.owner(of: id) ?? peer)
            }
            effects.replies.append(SensorProtocol.encode(HubToAgent.sync(register: sync.register).envelope))
        case .register(let id, let device, let hash), .update(let id, let device, let hash):
            let mustExist = if case .update = message { true } else { false }
            if let agentID = devices.agentID(of: peer), !mayServe(device.id, peer: peer, agentID: agentID) {
                ack(id, DeviceRegistry.Outcome(status: 409, error: "device \(device.id) belongs to another agent"))
                return
            }
            let outcome = devices.describe(device, hash: hash, from: peer, mustExist: mustExist)
            if outcome.status == 200 {
                effects.deliveries += state.sensorAdded(device.id, by: peer, replacing: true)
                effects.registryChanged = true
            }
            ack(id, outcome)
        case .disconnect(let id, let deviceID), .delete(let id, let deviceID):
            let delete = if case .delete = message { true } else { false }
            let outcome = devices.withdraw(deviceID, from: peer, delete: delete)
            if outcome.status == 200 {
                effects.deliveries += state.sensorRemoved(deviceID, by: peer)
                if delete { effects.registryChanged = true }
            }
            ack(id, outcome)
        case .event(let id, let deviceID, let service, let data):
            guard devices.mayPublish(deviceID, from: peer) else {
                ack(id, DeviceRegistry.Outcome(status: 404, error: "unknown or disconnected device \(deviceID)"))
                return
            }
            var readings = data.objectValue ?? ["value": data]
            readings["service"] = .string(service)
            if let delivery = state.reading(deviceID, .object(readings), from: peer) { effects.deliveries.append(delivery) }
            if recordsReadings, state.serves(deviceID, by: peer) {
                effects.accepted.append(HubEffects.AcceptedReading(sensorID: deviceID, readings: .object(readings)))
            }
            ack(id, DeviceRegistry.Outcome(status: 200, error: nil))
        case .commandResponse(let commandID, let status, let data):
            if let (app, answer) = commands.response(from: peer, commandID: commandID, status: status, data: data) {
                effects.deliveries.append(HubState.Delivery(message: answer, recipients: [app]))
            }
        }
    }

    /// Whether a device agent (`agentID`, speaking through `peer`) may serve `id`: no other
    /// agent's connection serves it. Another connection of the same agent id may: an open one,
    /// or one this connection superseded (the agent reconnected before its old connection was
    /// found dead).
    func mayServe(_ id: String, peer: PeerID, agentID: String) -> Bool {
        guard let owner = state.owner(of: id), owner != peer else { return true }
        return devices.agentID(of: owner) == agentID || supersededAgents[owner] == agentID
    }
}
