import SensorWire

/// What an agent (a device with sensors) sends to the hub. Same envelope as the app
/// protocol, on the same port; a connection whose first message is `agent_connect` is an agent.
///
/// - `{"event":"agent_connect","data":{"agent_id":"A1","sensors":["S1","S2"]}}`
/// - `{"event":"sensor_data","data":{"sensor_id":"S1","sensor_readings":<any JSON>}}`
/// - `{"event":"sensor_added","data":{"sensor_id":"S3"}}`
/// - `{"event":"sensor_removed","data":{"sensor_id":"S3"}}`
/// - `{"event":"agent_disconnect","data":""}`
package enum AgentMessage: Sendable, Hashable {
    case connect(agentID: String, sensors: [String])
    case data(sensorID: String, readings: JSONValue)
    case sensorAdded(sensorID: String)
    case sensorRemoved(sensorID: String)
    case disconnect

    package init?(_ envelope: Envelope) {
        let data = envelope.data
        switch envelope.event {
        case "agent_connect":
            guard let agentID = data["agent_id"]?.stringValue, let sensors = data["sensors"]?.arrayValue else { return nil }
            let ids = sensors.compactMap(\.stringValue)
            guard ids.count == sensors.count else { return nil }
            self = .connect(agentID: agentID, sensors: ids)
        case "sensor_data":
            guard let id = data["sensor_id"]?.stringValue, let readings = data["sensor_readings"] else { return nil }
            self = .data(sensorID: id, readings: readings)
        case "sensor_added":
            guard let id = data["sensor_id"]?.stringValue else { return nil }
            self = .sensorAdded(sensorID: id)
        case "sensor_removed":
            guard let id = data["sensor_id"]?.stringValue else { return nil }
            self = .sensorRemoved(sensorID: id)
        case "agent_disconnect":
            self = .disconnect
        default:
            return nil
        }
    }

    package var envelope: Envelope {
        switch self {
        case .connect(let agentID, let sensors):
            Envelope(event: "agent_connect", data: ["agent_id": .string(agentID), "sensors": .array(sensors.map(JSONValue.string))])
        case .data(let id, let readings):
            Envelope(event: "sensor_data", data: ["sensor_id": .string(id), "sensor_readings": readings])
        case .sensorAdded(let id): Envelope(event: "sensor_added", data: ["sensor_id": .string(id)])
        case .sensorRemoved(let id): Envelope(event: "sensor_removed", data: ["sensor_id": .string(id)])
        case .disconnect: Envelope(event: "agent_disconnect", data: "")
        }
    }
}
