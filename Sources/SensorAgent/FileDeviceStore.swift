import Foundation
import Locking
import SensorWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Devices in a JSON file, written atomically on every change: a temporary file beside it is
/// written and `fsync`ed, then renamed over the file (and the folder `fsync`ed), so a crash
/// leaves the old file or the new one, never a torn one.
///
/// The file is `{"devices": [{"id": ..., "type": ..., "name": ..., "tags": {...}}, ...]}`.
public final class FileDeviceStore: DeviceManager {
    /// The file.
    public let path: String
    private let stored: LockedValue<[String: Device]>
    /// Serializes writers, so the file always holds the last change.
    private let writer = LockedValue(())

    /// Opens (or creates) the file.
    /// - Parameter path: The file.
    /// - Throws: ``DeviceStoreError/file(path:reason:)`` for a file that is not a device list
    ///   (it is left as it is).
    public init(path: String) throws(DeviceStoreError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            stored = LockedValue([:])
            try write([])
            return
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .file(path: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        let parsed = data.withUnsafeBytes { bytes in Result { () throws(JSONParseError) in try JSONParser.parse(bytes) } }
        guard case .success(let json) = parsed else {
            if case .failure(let error) = parsed { throw .file(path: path, reason: "corrupt: \(error)") }
            throw .file(path: path, reason: "corrupt")
        }
        guard let list = json["devices"]?.arrayValue else { throw .file(path: path, reason: "corrupt: no \"devices\" list") }
        var devices: [String: Device] = [:]
        for (index, entry) in list.enumerated() {
            guard let device = Device(wire: entry) else { throw .file(path: path, reason: "corrupt: device \(index) is malformed") }
            if let problem = device.problem { throw .file(path: path, reason: "corrupt: \(problem)") }
            devices[device.id] = device
        }
        stored = LockedValue(devices)
    }

    /// Adds a device (replacing one with its id) and saves.
    /// - Parameter device: The device.
    public func add(_ device: Device) throws(DeviceStoreError) {
        if let problem = device.problem { throw .invalidDevice(problem) }
        try change { $0[device.id] = device }
    }

    /// Replaces the stored device with this id and saves.
    /// - Parameter device: The device.
    public func update(_ device: Device) throws(DeviceStoreError) {
        if let problem = device.problem { throw .invalidDevice(problem) }
        guard get(device.id) != nil else { throw .unknownDevice(device.id) }
        try change { $0[device.id] = device }
    }

    /// Removes a device and saves.
    /// - Parameter id: Its id.
    /// - Returns: The device, or nil.
    @discardableResult
    public func remove(_ id: String) throws(DeviceStoreError) -> Device? {
        guard let device = get(id) else { return nil }
        try change { $0[id] = nil }
        return device
    }

    /// The device with this id.
    /// - Parameter id: Its id.
    /// - Returns: The device, or nil.
    public func get(_ id: String) -> Device? { stored.withLock { $0[id] } }

    /// Every device, by id.
    public var devices: [Device] { stored.withLock { $0.values.sorted { $0.id < $1.id } } }

    /// Applies `body` and writes the result; on a failed write nothing changes.
    private func change(_ body: (inout [String: Device]) -> Void) throws(DeviceStoreError) {
        // One writer at a time (a file write is a call out: the device lock is not held for it).
        try writer.withLock { (_: inout Void) throws(DeviceStoreError) in
            var next = stored.withLock { $0 }
            body(&next)
            try write(next.values.sorted { $0.id < $1.id })
            stored.withLock { $0 = next }
        }
    }

    private func write(_ devices: [Device]) throws(DeviceStoreError) {
        var bytes: [UInt8] = []
        JSONSerializer.append(["devices": .array(devices.map(\.storedValue))], to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw .file(path: path, reason: error.reason)
        }
    }
}

extension Device {
    /// The device as a stored file holds it (no hash: it is computed).
    package var storedValue: JSONValue {
        ["id": .string(id), "type": .string(type), "name": .string(name), "tags": .object(tags.mapValues(JSONValue.string))]
    }
}

/// Writes a file so that a crash leaves the old contents or the new, never a torn file: a
/// temporary file beside it is written and `fsync`ed, renamed over it, and the folder `fsync`ed.
package enum AtomicFile {
    /// Why a write failed.
    package struct Failure: Error, Sendable {
        package let reason: String
    }

    /// Replaces `path`'s contents with `bytes`.
    package static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(reason: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else {
                close(descriptor)
                throw Failure(reason: "cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced, rename(temporary, path) == 0 else { throw Failure(reason: "cannot replace the file: \(String(cString: strerror(errno)))") }
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }
}

/// `write(2)`, named apart from the store's own `write`.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
