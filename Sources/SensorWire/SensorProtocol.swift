/// The JSON envelope every message of the sensor protocol travels in:
/// `{"event": <string>, "data": <object or "">}`.
package struct Envelope: Codable, Sendable, Hashable {
    package var event: String
    package var data: JSONValue

    package init(event: String, data: JSONValue) {
        self.event = event
        self.data = data
    }
}

/// What an app sends to the aggregator server.
package enum ClientMessage: Sendable, Hashable {
    /// `client_connect`, right after the WebSocket opens (and after every reconnect).
    case connect
    /// `client_disconnect`, before a requested close.
    case disconnect
    /// `sensor_connection_status`: is this sensor connected?
    case connectionStatus(sensorID: String)
    /// `subscribe_sensor`.
    case subscribe(sensorID: String)
    /// `unsubscribe_sensor`.
    case unsubscribe(sensorID: String)
    /// `sensor_command {request_id, sensor_id, service, data}`: a command for a device.
    case command(requestID: String, sensorID: String, service: String, data: JSONValue)
    /// `list_sensors`: every sensor the hub knows, with its description.
    case listSensors
    /// `hub_statistics`: the hub's counters (the dashboard polls them).
    case statistics
    /// `sensor_history {request_id, sensor_id, field?, from, to, max_points?}`: a sensor's
    /// recorded points.
    case history(HistoryRequest)
    /// A `sensor_history` request whose fields are wrong (the hub answers 400); the client
    /// never sends one.
    case invalidHistory(HistoryRequest.Invalid)

    package var envelope: Envelope {
        switch self {
        case .command(let requestID, let sensorID, let service, let data):
            Envelope(event: "sensor_command", data: ["request_id": .string(requestID), "sensor_id": .string(sensorID), "service": .string(service), "data": data])
        case .listSensors: Envelope(event: "list_sensors", data: "")
        case .statistics: Envelope(event: "hub_statistics", data: "")
        case .connect: Envelope(event: "client_connect", data: "")
        case .disconnect: Envelope(event: "client_disconnect", data: "")
        case .connectionStatus(let id): Envelope(event: "sensor_connection_status", data: ["sensor_id": .string(id)])
        case .subscribe(let id): Envelope(event: "subscribe_sensor", data: ["sensor_id": .string(id)])
        case .unsubscribe(let id): Envelope(event: "unsubscribe_sensor", data: ["sensor_id": .string(id)])
        case .history(let request): Envelope(event: "sensor_history", data: request.data)
        case .invalidHistory(let invalid): Envelope(event: "sensor_history", data: ["request_id": .string(invalid.requestID)])
        }
    }

    /// Parses an envelope an app sent (the server's side); nil for anything else.
    package init?(_ envelope: Envelope) {
        let id = envelope.data["sensor_id"]?.stringValue
        if envelope.event == "sensor_command" {
            guard let id, let requestID = envelope.data["request_id"]?.stringValue, let service = envelope.data["service"]?.stringValue,
                  let data = envelope.data["data"] else { return nil }
            self = .command(requestID: requestID, sensorID: id, service: service, data: data)
            return
        }
        if envelope.event == "sensor_history" {
            switch HistoryRequest.parse(envelope.data) {
            case .success(let request)?: self = .history(request)
            case .failure(let invalid)?: self = .invalidHistory(invalid)
            case nil: return nil
            }
            return
        }
        switch (envelope.event, id) {
        case ("list_sensors", _): self = .listSensors
        case ("hub_statistics", _): self = .statistics
        case ("client_connect", _): self = .connect
        case ("client_disconnect", _): self = .disconnect
        case ("sensor_connection_status", let id?): self = .connectionStatus(sensorID: id)
        case ("subscribe_sensor", let id?): self = .subscribe(sensorID: id)
        case ("unsubscribe_sensor", let id?): self = .unsubscribe(sensorID: id)
        default: return nil
        }
    }
}

/// What the aggregator server sends to an app.
package enum ServerMessage: Sendable, Hashable {
    /// `sensor_connection_status` with `connected`: an answer, or an unsolicited change.
    case connectionStatus(sensorID: String, connected: Bool)
    /// `new_sensor_data`: one reading of a subscribed sensor.
    case sensorData(sensorID: String, readings: JSONValue)
    /// `sensor_command_response {request_id, status, data}`: a command's outcome (the agent's
    /// status and data unchanged; 404 or 504 from the hub with `{"error": ...}`).
    indirect case commandResponse(requestID: String, status: Int, data: JSONValue)
    /// `sensor_list {sensors: [{sensor_id, type, name, tags, connected}]}`.
    indirect case sensorList([JSONValue])
    /// `hub_statistics {apps, agents, sensors, readings_delivered, readings_dropped}`.
    indirect case statistics(JSONValue)
    /// `sensor_history_response {request_id, status, data}`: a history request's outcome:
    /// 200 with `{sensor_id, from, to, series: {<field>: [[time, avg, min, max, count], ...]}}`,
    /// or 400 (a wrong request) or 503 (no history) with `{"error": ...}`.
    indirect case historyResponse(requestID: String, status: Int, data: JSONValue)

    package var envelope: Envelope {
        switch self {
        case .commandResponse(let requestID, let status, let data):
            Envelope(event: "sensor_command_response", data: ["request_id": .string(requestID), "status": .number(Double(status)), "data": data])
        case .sensorList(let sensors):
            Envelope(event: "sensor_list", data: ["sensors": .array(sensors)])
        case .statistics(let counters):
            Envelope(event: "hub_statistics", data: counters)
        case .historyResponse(let requestID, let status, let data):
            Envelope(event: "sensor_history_response", data: ["request_id": .string(requestID), "status": .number(Double(status)), "data": data])
        case .connectionStatus(let id, let connected):
            Envelope(event: "sensor_connection_status", data: ["sensor_id": .string(id), "connected": .bool(connected)])
        case .sensorData(let id, let readings):
            Envelope(event: "new_sensor_data", data: ["sensor_id": .string(id), "sensor_readings": readings])
        }
    }

    /// The message as JSON text, exactly as `SensorProtocol.encode(envelope)` writes it, but
    /// without building the envelope's dictionaries: the hub encodes every reading this way.
    package var encodedText: String {
        var output: [UInt8] = []
        switch self {
        case .connectionStatus(let id, let connected):
            output.reserveCapacity(128)
            output.append(contentsOf: #"{"event":"sensor_connection_status","data":{"connected":"#.utf8)
            output.append(contentsOf: (connected ? "true" : "false").utf8)
            output.append(contentsOf: #","sensor_id":"#.utf8)
            JSONSerializer.appendString(id, to: &output)
        case .sensorData(let id, let readings):
            output.reserveCapacity(128)
            output.append(contentsOf: #"{"event":"new_sensor_data","data":{"sensor_id":"#.utf8)
            JSONSerializer.appendString(id, to: &output)
            output.append(contentsOf: #","sensor_readings":"#.utf8)
            JSONSerializer.append(readings, to: &output)
        case .commandResponse, .sensorList, .statistics, .historyResponse:
            // Rare messages (answers, lists): the general encoder.
            return SensorProtocol.encode(envelope)
        }
        output.append(contentsOf: "}}".utf8)
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes JSON text from the server straight into a message: the same result as
    /// `SensorProtocol.decode(text).flatMap(ServerMessage.init)`, without building the
    /// envelope's dictionaries. Nil for invalid JSON, unknown events or missing fields.
    package static func decode(_ text: String) -> ServerMessage? {
        var text = text
        // The one-pass decoder knows the two frequent events; the others take the general path.
        return text.withUTF8 { JSONParser.parseServerMessage(UnsafeRawBufferPointer($0)) } ?? decodeRare(text)
    }

    /// The general path, for the rare events the one-pass decoder leaves (kept out of line).
    @inline(never)
    private static func decodeRare(_ text: String) -> ServerMessage? {
        SensorProtocol.decode(text).flatMap(ServerMessage.init)
    }

    /// Interprets an envelope from the server; nil for unknown events or missing fields
    /// (which the typed API skips; they stay visible on the raw frame stream).
    package init?(_ envelope: Envelope) {
        switch envelope.event {
        case "sensor_command_response":
            guard let requestID = envelope.data["request_id"]?.stringValue, let status = envelope.data["status"]?.intValue,
                  let data = envelope.data["data"] else { return nil }
            self = .commandResponse(requestID: requestID, status: status, data: data)
            return
        case "sensor_history_response":
            guard let requestID = envelope.data["request_id"]?.stringValue, let status = envelope.data["status"]?.intValue,
                  let data = envelope.data["data"] else { return nil }
            self = .historyResponse(requestID: requestID, status: status, data: data)
            return
        case "sensor_list":
            guard let sensors = envelope.data["sensors"]?.arrayValue else { return nil }
            self = .sensorList(sensors)
            return
        case "hub_statistics":
            guard envelope.data.objectValue != nil else { return nil }
            self = .statistics(envelope.data)
            return
        default:
            break
        }
        guard let id = envelope.data["sensor_id"]?.stringValue else { return nil }
        switch envelope.event {
        case "sensor_connection_status":
            guard let connected = envelope.data["connected"]?.boolValue else { return nil }
            self = .connectionStatus(sensorID: id, connected: connected)
        case "new_sensor_data":
            guard let readings = envelope.data["sensor_readings"] else { return nil }
            self = .sensorData(sensorID: id, readings: readings)
        default:
            return nil
        }
    }
}

/// JSON text <-> envelopes, through our own strict parser and serializer (no string
/// interpolation of values, so no sensor id can inject JSON).
package enum SensorProtocol {
    /// Encodes an envelope as compact JSON text, `event` first and object keys sorted:
    /// `{"event":"subscribe_sensor","data":{"sensor_id":"CE7238J"}}`. Every value goes
    /// through ``JSONSerializer``, which escapes strings, so no sensor id can inject JSON.
    package static func encode(_ envelope: Envelope) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(160)
        output.append(contentsOf: #"{"event":"#.utf8)
        JSONSerializer.appendString(envelope.event, to: &output)
        output.append(contentsOf: #","data":"#.utf8)
        JSONSerializer.append(envelope.data, to: &output)
        output.append(UInt8(ascii: "}"))
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes JSON text into an envelope; nil if it is not JSON or not an envelope (an
    /// object with a string `event`; a missing `data` reads as `null`).
    package static func decode(_ text: String) -> Envelope? {
        guard case .object(let members)? = try? JSONParser.parse(text),
              case .string(let event)? = members["event"] else { return nil }
        return Envelope(event: event, data: members["data"] ?? .null)
    }
}
