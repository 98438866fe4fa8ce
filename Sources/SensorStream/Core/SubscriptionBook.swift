import SensorWire

/// Which sensors the client must be subscribed to, and why (sans-I/O).
///
/// A sensor is active while the app holds an explicit ``SensorClient/subscribe(_:)`` or at
/// least one consumer (a `readings` loop or a callback) is attached. Every method returns the
/// protocol message the change calls for, if any, so the caller sends exactly that.
package struct SubscriptionBook: Sendable, Hashable {
    private var explicit: Set<String> = []
    private var consumers: [String: Int] = [:]

    package init() {}

    /// Sensors to (re)subscribe to after a connect, in a stable order.
    package var activeSensors: [String] {
        Set(explicit).union(consumers.keys).sorted()
    }

    package func isActive(_ id: String) -> Bool {
        explicit.contains(id) || consumers[id, default: 0] > 0
    }

    /// An explicit subscribe. Sends `subscribe_sensor` unless the sensor is already active
    /// (the server already sends its readings).
    package mutating func subscribe(_ id: String) -> ClientMessage? {
        let wasActive = isActive(id)
        explicit.insert(id)
        return wasActive ? nil : .subscribe(sensorID: id)
    }

    /// An explicit unsubscribe: ends every reason to be subscribed (consumers are ended by
    /// the caller) and always sends `unsubscribe_sensor`.
    package mutating func unsubscribe(_ id: String) -> ClientMessage {
        explicit.remove(id)
        consumers[id] = nil
        return .unsubscribe(sensorID: id)
    }

    /// A consumer starts: the first one of an inactive sensor subscribes.
    package mutating func addConsumer(_ id: String) -> ClientMessage? {
        let wasActive = isActive(id)
        consumers[id, default: 0] += 1
        return wasActive ? nil : .subscribe(sensorID: id)
    }

    /// A consumer ends: the last one of a sensor without an explicit subscribe unsubscribes.
    package mutating func removeConsumer(_ id: String) -> ClientMessage? {
        guard let count = consumers[id], count > 0 else { return nil }
        consumers[id] = count == 1 ? nil : count - 1
        return isActive(id) ? nil : .unsubscribe(sensorID: id)
    }
}
