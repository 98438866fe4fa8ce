import Foundation
import SensorAgent
import SensorWire

/// The hub's device registry on disk: `{"agents": {"home-1": [{"id", "type", "name", "tags"}, ...]}}`,
/// written atomically (``AtomicFile``) so a crash leaves the old file or the new one.
package enum RegistryFile {
    /// Why the file cannot be read or written.
    package struct Failure: Error, Sendable {
        package let reason: String
    }

    /// The saved devices by agent; empty when the file does not exist yet.
    package static func read(_ path: String) throws(Failure) -> [String: [Device]] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(reason: "cannot read") }
        let parsed = data.withUnsafeBytes { bytes in Result { () throws(JSONParseError) in try JSONParser.parse(bytes) } }
        guard case .success(let json) = parsed, let agents = json["agents"]?.objectValue else { throw Failure(reason: "corrupt: not a device registry") }
        var saved: [String: [Device]] = [:]
        for (agentID, list) in agents {
            guard let entries = list.arrayValue else { throw Failure(reason: "corrupt: agent \(agentID)") }
            saved[agentID] = try entries.map { (entry) throws(Failure) -> Device in
                guard let device = Device(wire: entry), device.problem == nil else { throw Failure(reason: "corrupt: a device of agent \(agentID)") }
                return device
            }
        }
        return saved
    }

    /// Replaces the file with `saved`.
    package static func write(_ saved: [String: [Device]], to path: String) throws(Failure) {
        do {
            try AtomicFile.write(encode(saved), to: path)
        } catch {
            throw Failure(reason: error.reason)
        }
    }

    /// The file's bytes for `saved`.
    package static func encode(_ saved: [String: [Device]]) -> [UInt8] {
        var bytes: [UInt8] = []
        JSONSerializer.append(["agents": .object(saved.mapValues { .array($0.map(\.storedValue)) })], to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
