import SensorWire

/// What handling messages produced, for the I/O layer to carry out after the hub's lock is
/// released, in this order: log the events, save the registry (a change is on the disk before
/// it is acknowledged), write the replies to the sender, forward the commands, deliver the
/// rest, then close the sender if it was refused.
package struct HubEffects: Sendable {
    /// Messages for app connections (readings, statuses, answers), in order.
    package var deliveries: [HubState.Delivery] = []
    /// Texts for the sending connection itself (a device agent's acks and sync), in order.
    package var replies: [String] = []
    /// Commands to write to agents' connections, and when each times out (the hub's time).
    package var forwards: [Forward] = []
    /// The device registry changed.
    package var registryChanged = false
    /// Close the sender with 1008; nothing it sent after the refused message is handled.
    package var refusal: HubRefusal?
    /// What to log.
    package var events: [HubEvent] = []
    /// Readings accepted from the agents that serve their sensors, subscribed to or not, for the
    /// history (collected only when ``HubCore/recordsReadings``).
    package var accepted: [AcceptedReading] = []
    /// History requests to read from MetricStore and answer (only when the hub records).
    package var historyReads: [HistoryRead] = []

    /// A history request checked by the core, for the I/O layer to read and answer.
    package struct HistoryRead: Sendable, Hashable {
        /// Who asked.
        package var peer: HubState.PeerID
        /// What to read.
        package var query: HistoryQuery
    }

    /// A reading the hub accepted from its sensor's agent.
    package struct AcceptedReading: Sendable, Hashable {
        /// The sensor.
        package var sensorID: String
        /// What it reported (`sensor_readings`).
        package var readings: JSONValue

        /// A reading of `sensorID`.
        package init(sensorID: String, readings: JSONValue) {
            self.sensorID = sensorID
            self.readings = readings
        }
    }

    /// A command on its way to an agent.
    package struct Forward: Sendable, Hashable {
        package var agent: HubState.PeerID
        package var text: String
        package var deadline: Duration
    }

    package init() {}
}
