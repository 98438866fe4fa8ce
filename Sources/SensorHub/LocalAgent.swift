import SensorWire

/// An agent living in the hub's process: publishes readings without a socket.
package final class LocalAgent: Sendable {
    private let hub: Hub
    private let peer: UInt64

    init(hub: Hub, peer: UInt64) {
        self.hub = hub
        self.peer = peer
    }

    /// Publishes one reading of `sensorID` to its subscribers.
    package func publish(_ sensorID: String, _ readings: JSONValue) {
        hub.localAgent(peer, CollectionOfOne(.data(sensorID: sensorID, readings: readings)))
    }

    /// Publishes several readings at once, as a remote agent's batch arrives: each subscriber
    /// gets them in one write.
    package func publish(_ batch: some Sequence<(sensorID: String, readings: JSONValue)>) {
        hub.localAgent(peer, batch.lazy.map { AgentMessage.data(sensorID: $0.sensorID, readings: $0.readings) })
    }

    /// Announces a new sensor.
    package func addSensor(_ sensorID: String) { hub.localAgent(peer, CollectionOfOne(.sensorAdded(sensorID: sensorID))) }

    /// Withdraws a sensor.
    package func removeSensor(_ sensorID: String) { hub.localAgent(peer, CollectionOfOne(.sensorRemoved(sensorID: sensorID))) }

    /// Disconnects the agent: its sensors become disconnected.
    package func detach() { hub.localAgent(peer, CollectionOfOne(.disconnect)) }
}
