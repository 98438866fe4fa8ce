import SensorAgent
import SensorWire

/// The hub's devices, sans-I/O: which agent owns which device, its description, whether it is
/// connected. Keyed by agent id, so devices survive an agent's reconnects; the I/O layer tells
/// it which connection (peer) speaks for which agent.
package struct DeviceRegistry: Sendable {
    package typealias PeerID = UInt64

    /// One registered device.
    package struct Entry: Sendable, Hashable {
        package var agentID: String
        package var device: Device
        package var connected: Bool
    }

    /// What an agent's (re)connect changes.
    package struct Sync: Sendable, Hashable {
        /// Devices to ask the agent to describe (unknown, changed, or another agent's).
        package var register: [String]
        /// Known and unchanged devices, connected again.
        package var connected: [String]
        /// Devices this agent had and no longer lists: disconnected.
        package var disconnected: [String]
        /// The agent's previous connection, if it was still registered (it reconnected before
        /// the old connection was found dead): its devices move to the new one.
        package var previous: PeerID? = nil
    }

    /// A request's outcome: 200, or a status and why.
    package struct Outcome: Sendable, Hashable {
        package var status: Int
        package var error: String?
        static let ok = Outcome(status: 200, error: nil)
    }

    package private(set) var entries: [String: Entry] = [:]
    private var agentOfPeer: [PeerID: String] = [:]
    private var peerOfAgent: [String: PeerID] = [:]

    package init() {}

    /// A registry holding what an earlier hub saved (``saved``): every device disconnected
    /// until its agent connects again.
    package init(restoring devices: [String: [Device]]) {
        for (agentID, list) in devices {
            for device in list { entries[device.id] = Entry(agentID: agentID, device: device, connected: false) }
        }
    }

    /// What survives a restart: each agent's devices (not whether they are connected).
    package var saved: [String: [Device]] {
        Dictionary(grouping: entries.values, by: \.agentID).mapValues { $0.map(\.device).sorted { $0.id < $1.id } }
    }

    /// An agent connected with its device list (ids and hashes).
    package mutating func agentConnected(_ peer: PeerID, agentID: String, devices: [AgentToHub.DeviceDigest]) -> Sync {
        let previous = peerOfAgent[agentID].flatMap { $0 == peer ? nil : $0 }
        if let previous { agentOfPeer[previous] = nil }
        peerOfAgent[agentID] = peer
        agentOfPeer[peer] = agentID
        var sync = Sync(register: [], connected: [], disconnected: [], previous: previous)
        let listed = Set(devices.map(\.id))
        for digest in devices {
            if let entry = entries[digest.id], entry.agentID == agentID, entry.device.hash == digest.hash {
                entries[digest.id]?.connected = true
                sync.connected.append(digest.id)
            } else {
                sync.register.append(digest.id)
            }
        }
        for (id, entry) in entries where entry.agentID == agentID && !listed.contains(id) && entry.connected {
            entries[id]?.connected = false
            sync.disconnected.append(id)
        }
        sync.disconnected.sort()
        return sync
    }

    /// A connection closed: its agent's devices are disconnected (unless the agent already
    /// speaks through a newer connection). Their subscribers hear it from ``HubState``.
    package mutating func peerGone(_ peer: PeerID) {
        guard let agentID = agentOfPeer.removeValue(forKey: peer), peerOfAgent[agentID] == peer else { return }
        peerOfAgent[agentID] = nil
        for (id, entry) in entries where entry.agentID == agentID && entry.connected { entries[id]?.connected = false }
    }

    /// `device_register` or `device_update` (`mustExist`) from `peer`.
    package mutating func describe(_ device: Device, hash: String, from peer: PeerID, mustExist: Bool) -> Outcome {
        guard let agentID = agentOfPeer[peer] else { return Outcome(status: 400, error: "send agent_connect first") }
        if let problem = device.problem { return Outcome(status: 400, error: problem) }
        guard hash == device.hash else { return Outcome(status: 400, error: "hash mismatch: expected \(device.hash)") }
        if mustExist, entries[device.id]?.agentID != agentID { return Outcome(status: 404, error: "unknown device \(device.id)") }
        if let entry = entries[device.id], entry.agentID != agentID, entry.connected || isConnected(agent: entry.agentID) {
            return Outcome(status: 409, error: "device \(device.id) belongs to another agent")
        }
        entries[device.id] = Entry(agentID: agentID, device: device, connected: true)
        return .ok
    }

    /// `device_disconnect` (or `device_delete` with `delete`) from `peer`.
    package mutating func withdraw(_ id: String, from peer: PeerID, delete: Bool) -> Outcome {
        guard let agentID = agentOfPeer[peer] else { return Outcome(status: 400, error: "send agent_connect first") }
        guard entries[id]?.agentID == agentID else { return Outcome(status: 404, error: "unknown device \(id)") }
        if delete { entries[id] = nil } else { entries[id]?.connected = false }
        return .ok
    }

    /// The agent id `peer` speaks for, if it connected as a device agent.
    package func agentID(of peer: PeerID) -> String? { agentOfPeer[peer] }

    /// Whether agent `agentID` has a connection now.
    package func isConnected(agent agentID: String) -> Bool { peerOfAgent[agentID] != nil }

    /// Whether `id` is a registered device of an agent that is connected now (its id is not
    /// free for anyone else, even while the device itself is disconnected).
    package func isHeld(_ id: String) -> Bool { entries[id].map { isConnected(agent: $0.agentID) } ?? false }

    /// Marks a device disconnected (another agent's connection serves its id meanwhile).
    package mutating func markDisconnected(_ id: String) { entries[id]?.connected = false }

    /// The connection of the agent serving `id`, if the device is connected.
    package func agentPeer(serving id: String) -> PeerID? {
        guard let entry = entries[id], entry.connected else { return nil }
        return peerOfAgent[entry.agentID]
    }

    /// `sensor_list`'s entries: every registered device (disconnected ones too), by id, then
    /// the sensors of agents without descriptions (`legacy`: id -> connected).
    package func sensorList(legacy: [String]) -> [JSONValue] {
        var list = entries.values.sorted { $0.device.id < $1.device.id }.map { entry -> JSONValue in
            ["sensor_id": .string(entry.device.id), "type": .string(entry.device.type), "name": .string(entry.device.name),
             "tags": .object(entry.device.tags.mapValues(JSONValue.string)), "connected": .bool(entry.connected), "agent": .string(entry.agentID)]
        }
        for id in legacy.sorted() where entries[id] == nil {
            list.append(["sensor_id": .string(id), "type": "sensor", "name": .string(id), "tags": .object([:]), "connected": true, "agent": .null])
        }
        return list
    }

    /// Whether `peer`'s agent may publish an event of `id` (owns it, connected).
    package func mayPublish(_ id: String, from peer: PeerID) -> Bool {
        guard let agentID = agentOfPeer[peer], let entry = entries[id] else { return false }
        return entry.agentID == agentID && entry.connected
    }
}
