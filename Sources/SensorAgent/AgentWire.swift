import SensorWire

/// What a device agent sends to the hub (JSON text frames, the app protocol's envelope).
///
/// - `agent_connect {agent_id, token?, devices: [{id, hash}]}`
/// - `device_register {request_id, device}`, `device_update {request_id, device}` (a device is
///   `{id, type, name, tags, hash}`)
/// - `device_disconnect {request_id, device_id}`, `device_delete {request_id, device_id}`
/// - `device_event {request_id, device_id, service, data}`
/// - `command_response {command_id, status, data}`
package enum AgentToHub: Sendable, Hashable {
    case connect(agentID: String, token: String?, devices: [DeviceDigest])
    case register(requestID: String, device: Device, hash: String)
    case update(requestID: String, device: Device, hash: String)
    case disconnect(requestID: String, deviceID: String)
    case delete(requestID: String, deviceID: String)
    case event(requestID: String, deviceID: String, service: String, data: JSONValue)
    case commandResponse(commandID: String, status: Int, data: JSONValue)

    /// A device's id and hash, as `agent_connect` lists them.
    package struct DeviceDigest: Sendable, Hashable {
        package var id: String
        package var hash: String
        package init(id: String, hash: String) {
            self.id = id
            self.hash = hash
        }
    }

    /// The request id of a request (nil for `agent_connect` and `command_response`).
    package var requestID: String? {
        switch self {
        case .register(let id, _, _), .update(let id, _, _), .disconnect(let id, _), .delete(let id, _), .event(let id, _, _, _): id
        case .connect, .commandResponse: nil
        }
    }

    package var envelope: Envelope {
        switch self {
        case .connect(let agentID, let token, let devices):
            var data: [String: JSONValue] = ["agent_id": .string(agentID),
                                             "devices": .array(devices.map { ["id": .string($0.id), "hash": .string($0.hash)] })]
            if let token { data["token"] = .string(token) }
            return Envelope(event: "agent_connect", data: .object(data))
        case .register(let id, let device, let hash):
            return Envelope(event: "device_register", data: ["request_id": .string(id), "device": Self.wire(device, hash: hash)])
        case .update(let id, let device, let hash):
            return Envelope(event: "device_update", data: ["request_id": .string(id), "device": Self.wire(device, hash: hash)])
        case .disconnect(let id, let deviceID):
            return Envelope(event: "device_disconnect", data: ["request_id": .string(id), "device_id": .string(deviceID)])
        case .delete(let id, let deviceID):
            return Envelope(event: "device_delete", data: ["request_id": .string(id), "device_id": .string(deviceID)])
        case .event(let id, let deviceID, let service, let data):
            return Envelope(event: "device_event", data: ["request_id": .string(id), "device_id": .string(deviceID), "service": .string(service), "data": data])
        case .commandResponse(let id, let status, let data):
            return Envelope(event: "command_response", data: ["command_id": .string(id), "status": .number(Double(status)), "data": data])
        }
    }

    private static func wire(_ device: Device, hash: String) -> JSONValue {
        guard case .object(var members) = device.wireValue else { return device.wireValue }
        members["hash"] = .string(hash)
        return .object(members)
    }

    /// Reads what an agent sent (the hub's side); nil for anything else, including the legacy
    /// `agent_connect {agent_id, sensors}` (``AgentMessage``'s).
    package init?(_ envelope: Envelope) {
        let data = envelope.data
        switch envelope.event {
        case "agent_connect":
            guard let agentID = data["agent_id"]?.stringValue, let list = data["devices"]?.arrayValue else { return nil }
            var devices: [DeviceDigest] = []
            for entry in list {
                guard let id = entry["id"]?.stringValue, let hash = entry["hash"]?.stringValue else { return nil }
                devices.append(DeviceDigest(id: id, hash: hash))
            }
            let token = data["token"]
            guard token == nil || token?.stringValue != nil else { return nil }
            self = .connect(agentID: agentID, token: token?.stringValue, devices: devices)
        case "device_register", "device_update":
            guard let id = data["request_id"]?.stringValue, let value = data["device"], let device = Device(wire: value),
                  let hash = value["hash"]?.stringValue else { return nil }
            self = envelope.event == "device_register" ? .register(requestID: id, device: device, hash: hash) : .update(requestID: id, device: device, hash: hash)
        case "device_disconnect", "device_delete":
            guard let id = data["request_id"]?.stringValue, let deviceID = data["device_id"]?.stringValue else { return nil }
            self = envelope.event == "device_disconnect" ? .disconnect(requestID: id, deviceID: deviceID) : .delete(requestID: id, deviceID: deviceID)
        case "device_event":
            guard let id = data["request_id"]?.stringValue, let deviceID = data["device_id"]?.stringValue,
                  let service = data["service"]?.stringValue, let payload = data["data"] else { return nil }
            self = .event(requestID: id, deviceID: deviceID, service: service, data: payload)
        case "command_response":
            guard let id = data["command_id"]?.stringValue, let status = data["status"]?.intValue, let payload = data["data"] else { return nil }
            self = .commandResponse(commandID: id, status: status, data: payload)
        default:
            return nil
        }
    }
}

/// What the hub sends to a device agent.
///
/// - `agent_sync {register: [ids]}`: the devices whose full description the hub wants
/// - `ack {request_id, status, error?}`: a request's outcome (200: done)
/// - `command {command_id, device_id, service, data}`: a command from an app
package enum HubToAgent: Sendable, Hashable {
    case sync(register: [String])
    case ack(requestID: String, status: Int, error: String?)
    case command(commandID: String, deviceID: String, service: String, data: JSONValue)

    package var envelope: Envelope {
        switch self {
        case .sync(let ids):
            return Envelope(event: "agent_sync", data: ["register": .array(ids.map(JSONValue.string))])
        case .ack(let id, let status, let error):
            var data: [String: JSONValue] = ["request_id": .string(id), "status": .number(Double(status))]
            if let error { data["error"] = .string(error) }
            return Envelope(event: "ack", data: .object(data))
        case .command(let id, let deviceID, let service, let data):
            return Envelope(event: "command", data: ["command_id": .string(id), "device_id": .string(deviceID), "service": .string(service), "data": data])
        }
    }

    /// Reads what the hub sent (the agent's side); nil for anything else.
    package init?(_ envelope: Envelope) {
        let data = envelope.data
        switch envelope.event {
        case "agent_sync":
            guard let list = data["register"]?.arrayValue else { return nil }
            let ids = list.compactMap(\.stringValue)
            guard ids.count == list.count else { return nil }
            self = .sync(register: ids)
        case "ack":
            guard let id = data["request_id"]?.stringValue, let status = data["status"]?.intValue else { return nil }
            let error = data["error"]
            guard error == nil || error?.stringValue != nil else { return nil }
            self = .ack(requestID: id, status: status, error: error?.stringValue)
        case "command":
            guard let id = data["command_id"]?.stringValue, let deviceID = data["device_id"]?.stringValue,
                  let service = data["service"]?.stringValue, let payload = data["data"] else { return nil }
            self = .command(commandID: id, deviceID: deviceID, service: service, data: payload)
        default:
            return nil
        }
    }
}
