import SensorWire

/// The hub's bookkeeping, sans-I/O: which agents serve which sensors, which app
/// connections subscribe to which sensors. Every event returns the messages to deliver.
package struct HubState: Sendable {
    /// An app connection or an agent, numbered by the I/O layer.
    package typealias PeerID = UInt64

    /// One message for a set of app connections.
    package struct Delivery: Sendable, Hashable {
        package var message: ServerMessage
        package var recipients: [PeerID]
    }

    private var subscribers: [String: Set<PeerID>] = [:]
    /// Each sensor's subscribers, sorted, kept beside the set: every reading goes to this one
    /// array (shared, not copied), instead of a set sorted per reading.
    private var recipients: [String: [PeerID]] = [:]
    private var subscriptions: [PeerID: Set<String>] = [:]
    /// Which agent serves a sensor.
    private var owners: [String: PeerID] = [:]
    private var agentSensors: [PeerID: Set<String>] = [:]

    package init() {}

    /// Whether an agent currently serves `sensorID`.
    package func isConnected(_ sensorID: String) -> Bool { owners[sensorID] != nil }

    /// The agent serving `sensorID`, if any.
    package func owner(of sensorID: String) -> PeerID? { owners[sensorID] }

    /// The app connections subscribed to `sensorID`.
    package func subscribers(of sensorID: String) -> Set<PeerID> { subscribers[sensorID] ?? [] }

    /// The sensors every agent serves, sorted.
    package var connectedSensors: [String] { owners.keys.sorted() }

    // MARK: Apps

    /// A message from an app connection.
    package mutating func handle(_ message: ClientMessage, from peer: PeerID) -> [Delivery] {
        switch message {
        case .command, .listSensors, .statistics, .history, .invalidHistory:
            return []  // the hub's command router, device registry and history answer these
        case .connect:
            subscriptions[peer, default: []].formUnion([])
            return []
        case .disconnect:
            appGone(peer)
            return []
        case .connectionStatus(let id):
            return [Delivery(message: .connectionStatus(sensorID: id, connected: isConnected(id)), recipients: [peer])]
        case .subscribe(let id):
            if subscribers[id, default: []].insert(peer).inserted { recipientsChanged(id) }
            subscriptions[peer, default: []].insert(id)
            return []
        case .unsubscribe(let id):
            unsubscribe(peer, from: id)
            subscriptions[peer]?.remove(id)
            return []
        }
    }

    /// How many sensors `peer` subscribes to.
    package func subscriptionCount(of peer: PeerID) -> Int { subscriptions[peer]?.count ?? 0 }

    /// An app connection closed: it subscribes to nothing any more.
    package mutating func appGone(_ peer: PeerID) {
        for id in subscriptions.removeValue(forKey: peer) ?? [] { unsubscribe(peer, from: id) }
    }

    private mutating func unsubscribe(_ peer: PeerID, from id: String) {
        guard subscribers[id]?.remove(peer) != nil else { return }
        if subscribers[id]?.isEmpty == true { subscribers[id] = nil }
        recipientsChanged(id)
    }

    private mutating func recipientsChanged(_ id: String) {
        recipients[id] = subscribers[id]?.sorted()
    }

    // MARK: Agents

    /// An agent announced itself and its sensors: subscribers of each sensor that was not
    /// connected get `connected: true`. A sensor another agent serves stays with it.
    package mutating func agentConnected(_ agent: PeerID, sensors: [String]) -> [Delivery] {
        sensors.flatMap { sensorAdded($0, by: agent) }
    }

    /// Whether `agent` may claim `sensorID`: no other connected agent serves it.
    package func mayClaim(_ sensorID: String, by agent: PeerID) -> Bool {
        owners[sensorID].map { $0 == agent } ?? true
    }

    /// A sensor appeared on an agent. A sensor another agent serves stays with that agent
    /// (check ``mayClaim(_:by:)`` first: the hub refuses such a claim).
    /// - Parameter replacing: take it over from the agent serving it (the same device agent
    ///   on a newer connection).
    package mutating func sensorAdded(_ sensorID: String, by agent: PeerID, replacing: Bool = false) -> [Delivery] {
        guard replacing || mayClaim(sensorID, by: agent) else { return [] }
        let wasConnected = isConnected(sensorID)
        if let previous = owners[sensorID], previous != agent { agentSensors[previous]?.remove(sensorID) }
        owners[sensorID] = agent
        agentSensors[agent, default: []].insert(sensorID)
        return wasConnected ? [] : statusChange(sensorID, connected: true)
    }

    /// A sensor disappeared from its agent.
    package mutating func sensorRemoved(_ sensorID: String, by agent: PeerID) -> [Delivery] {
        guard owners[sensorID] == agent else { return [] }
        owners[sensorID] = nil
        agentSensors[agent]?.remove(sensorID)
        return statusChange(sensorID, connected: false)
    }

    /// An agent left or dropped: its sensors are disconnected, and their subscribers told.
    package mutating func agentGone(_ agent: PeerID) -> [Delivery] {
        let sensors = agentSensors.removeValue(forKey: agent) ?? []
        return sensors.sorted().flatMap { id -> [Delivery] in
            guard owners[id] == agent else { return [] }
            owners[id] = nil
            return statusChange(id, connected: false)
        }
    }

    /// Whether `agent` serves `sensorID` (its readings are the sensor's).
    package func serves(_ sensorID: String, by agent: PeerID) -> Bool { owners[sensorID] == agent }

    /// A reading from an agent, for every subscriber; ignored unless the agent serves it.
    package func reading(_ sensorID: String, _ readings: JSONValue, from agent: PeerID) -> Delivery? {
        guard owners[sensorID] == agent, let peers = recipients[sensorID], !peers.isEmpty else { return nil }
        return Delivery(message: .sensorData(sensorID: sensorID, readings: readings), recipients: peers)
    }

    private func statusChange(_ sensorID: String, connected: Bool) -> [Delivery] {
        guard let peers = recipients[sensorID], !peers.isEmpty else { return [] }
        return [Delivery(message: .connectionStatus(sensorID: sensorID, connected: connected), recipients: peers)]
    }
}
