/// A device's answer to ``SensorClient/sendCommand(to:service:data:)``, passed through by the
/// hub unchanged; or the hub's own: 404 (unknown or disconnected device) or 504 (the agent did
/// not answer in time), with `{"error": "..."}`.
public struct CommandResponse: Sendable, Hashable {
    /// The status: 2xx when the device did what was asked.
    public var status: Int
    /// The answer's data.
    public var data: JSONValue

    /// A response.
    /// - Parameters:
    ///   - status: See ``status``.
    ///   - data: See ``data``.
    public init(status: Int, data: JSONValue) {
        self.status = status
        self.data = data
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }
}

/// A sensor the hub knows (``SensorClient/sensors()``): a device registered by an agent, or a
/// sensor of an agent without descriptions (type `sensor`).
public struct SensorInfo: Sendable, Hashable {
    /// Its id.
    public var sensorID: String
    /// What it is (`thermometer` ...).
    public var type: String
    /// Its name.
    public var name: String
    /// Its labels.
    public var tags: [String: String]
    /// Whether its agent serves it now (a disconnected device stays listed).
    public var connected: Bool

    /// A sensor.
    /// - Parameters:
    ///   - sensorID: See ``sensorID``.
    ///   - type: See ``type``.
    ///   - name: See ``name``.
    ///   - tags: See ``tags``.
    ///   - connected: See ``connected``.
    public init(sensorID: String, type: String, name: String, tags: [String: String], connected: Bool) {
        self.sensorID = sensorID
        self.type = type
        self.name = name
        self.tags = tags
        self.connected = connected
    }

    /// An entry of `sensor_list`; nil when malformed.
    init?(_ value: JSONValue) {
        guard let id = value["sensor_id"]?.stringValue, let type = value["type"]?.stringValue, let name = value["name"]?.stringValue,
              let tagObject = value["tags"]?.objectValue, let connected = value["connected"]?.boolValue else { return nil }
        var tags: [String: String] = [:]
        for (key, tag) in tagObject {
            guard let text = tag.stringValue else { return nil }
            tags[key] = text
        }
        self.init(sensorID: id, type: type, name: name, tags: tags, connected: connected)
    }
}

/// What a request of the client resolved to.
package enum ClientReply: Sendable, Hashable {
    /// `sensorConnected`'s answer.
    case status(Bool)
    /// A command's response.
    case command(CommandResponse)
    /// The sensor list (malformed entries left out).
    case sensors([SensorInfo])
    /// A history request's outcome: the history, or the hub's error status and reason.
    case history(Result<SensorHistory, SensorClientError>)
}
