import Foundation
import Locking

/// Where an agent keeps its devices: add, update, remove, get, list.
public protocol DeviceManager: Sendable {
    /// Adds a device (replacing one with its id).
    /// - Parameter device: The device.
    /// - Throws: ``DeviceStoreError``.
    func add(_ device: Device) throws(DeviceStoreError)
    /// Replaces the stored device with this id.
    /// - Parameter device: The device.
    /// - Throws: ``DeviceStoreError/unknownDevice(_:)`` when there is none.
    func update(_ device: Device) throws(DeviceStoreError)
    /// Removes a device.
    /// - Parameter id: Its id.
    /// - Returns: The device, or nil when there was none.
    /// - Throws: ``DeviceStoreError`` when the change cannot be saved.
    @discardableResult
    func remove(_ id: String) throws(DeviceStoreError) -> Device?
    /// The device with this id.
    /// - Parameter id: Its id.
    /// - Returns: The device, or nil.
    func get(_ id: String) -> Device?
    /// Every device, by id.
    var devices: [Device] { get }
}

/// Why a device store refused a change or could not open.
public enum DeviceStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The device is not valid (its ``Device/problem``).
    case invalidDevice(String)
    /// No device has this id.
    case unknownDevice(String)
    /// The file could not be read, parsed or written.
    case file(path: String, reason: String)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .invalidDevice(let problem): problem
        case .unknownDevice(let id): "no device \(id)"
        case .file(let path, let reason): "\(path): \(reason)"
        }
    }
}

/// Devices in memory: gone when the process ends.
public final class InMemoryDeviceStore: DeviceManager {
    private let stored: LockedValue<[String: Device]>

    /// A store holding `devices`.
    /// - Parameter devices: The devices to start with.
    public init(_ devices: [Device] = []) {
        stored = LockedValue(Dictionary(devices.map { ($0.id, $0) }, uniquingKeysWith: { $1 }))
    }

    /// Adds a device (replacing one with its id).
    /// - Parameter device: The device.
    public func add(_ device: Device) throws(DeviceStoreError) {
        if let problem = device.problem { throw .invalidDevice(problem) }
        stored.withLock { $0[device.id] = device }
    }

    /// Replaces the stored device with this id.
    /// - Parameter device: The device.
    public func update(_ device: Device) throws(DeviceStoreError) {
        if let problem = device.problem { throw .invalidDevice(problem) }
        let known = stored.withLock { stored -> Bool in
            guard stored[device.id] != nil else { return false }
            stored[device.id] = device
            return true
        }
        guard known else { throw .unknownDevice(device.id) }
    }

    /// Removes a device.
    /// - Parameter id: Its id.
    /// - Returns: The device, or nil.
    @discardableResult
    public func remove(_ id: String) throws(DeviceStoreError) -> Device? {
        stored.withLock { $0.removeValue(forKey: id) }
    }

    /// The device with this id.
    /// - Parameter id: Its id.
    /// - Returns: The device, or nil.
    public func get(_ id: String) -> Device? { stored.withLock { $0[id] } }

    /// Every device, by id.
    public var devices: [Device] { stored.withLock { $0.values.sorted { $0.id < $1.id } } }
}
