import SensorWire
import WebSocketCore

/// A device an agent brings onto the platform. Apps see it as a sensor with this id.
public struct Device: Sendable, Hashable, CustomStringConvertible {
    /// Unique among the agent's devices; 1...40 characters (a sensor id for apps).
    public var id: String
    /// What it is: `thermometer`, `lamp` ...
    public var type: String
    /// A name for people.
    public var name: String
    /// Free-form labels (`floor: 1`); add, change or remove entries as the device changes.
    public var tags: [String: String]

    /// A device.
    /// - Parameters:
    ///   - id: See ``id``.
    ///   - type: See ``type``.
    ///   - name: See ``name``.
    ///   - tags: See ``tags``.
    public init(id: String, type: String, name: String, tags: [String: String] = [:]) {
        self.id = id
        self.type = type
        self.name = name
        self.tags = tags
    }

    /// The description the hash covers: compact JSON `{"id":...,"name":...,"tags":{...},"type":...}`
    /// with keys sorted at every level, as our serializer writes it.
    public var canonicalJSON: String {
        JSONSerializer.serialize(descriptionValue)
    }

    /// Lower-case hex SHA-1 of ``canonicalJSON``: the hub recomputes it (a mismatch is a 400),
    /// and an agent compares it to learn which devices changed.
    public var hash: String {
        SHA1.hash(Array(canonicalJSON.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
        }.joined()
    }

    /// Why this device cannot be registered; nil when it can.
    public var problem: String? {
        guard (1...40).contains(id.count) else { return "device id \"\(id)\" must be 1...40 characters" }
        guard !type.isEmpty else { return "device \(id) needs a type" }
        return nil
    }

    /// `thermo-1 (thermometer "Kitchen", floor=1)`.
    public var description: String {
        let labels = tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return "\(id) (\(type) \"\(name)\"\(labels.isEmpty ? "" : ", " + labels.joined(separator: ", ")))"
    }

    private var descriptionValue: JSONValue {
        ["id": .string(id), "type": .string(type), "name": .string(name), "tags": .object(tags.mapValues(JSONValue.string))]
    }

    /// The device on the wire: its description and its hash.
    package var wireValue: JSONValue {
        guard case .object(var members) = descriptionValue else { return descriptionValue }
        members["hash"] = .string(hash)
        return .object(members)
    }

    /// A device from the wire, and the hash it came with (nil when absent); nil when malformed.
    package init?(wire value: JSONValue) {
        guard let id = value["id"]?.stringValue, let type = value["type"]?.stringValue, let name = value["name"]?.stringValue,
              let tagObject = value["tags"]?.objectValue else { return nil }
        var tags: [String: String] = [:]
        for (key, tag) in tagObject {
            guard let text = tag.stringValue else { return nil }
            tags[key] = text
        }
        self.init(id: id, type: type, name: name, tags: tags)
    }
}
