import SensorWire

/// `sensor_connection_status` requests waiting for their answer (sans-I/O).
///
/// Requests for the same sensor share one round trip: only the first sends a message, and
/// one answer (solicited or not) resolves them all. After a reconnect, every sensor still
/// awaited is asked again.
package struct PendingRequests<Waiter: Sendable>: Sendable {
    private var waiters: [String: [(id: UInt64, waiter: Waiter)]] = [:]
    private var nextID: UInt64 = 0

    package init() {}

    /// Sensors that still wait for an answer, in a stable order.
    package var awaitedSensors: [String] { waiters.keys.sorted() }

    /// Adds a waiter. Returns its id, and the request to send if it is the first for `sensorID`.
    package mutating func add(_ sensorID: String, _ waiter: Waiter) -> (id: UInt64, message: ClientMessage?) {
        nextID += 1
        let first = waiters[sensorID] == nil
        waiters[sensorID, default: []].append((nextID, waiter))
        return (nextID, first ? .connectionStatus(sensorID: sensorID) : nil)
    }

    /// An answer for `sensorID` arrived: every waiter for it, in order.
    package mutating func answer(_ sensorID: String) -> [Waiter] {
        waiters.removeValue(forKey: sensorID)?.map(\.waiter) ?? []
    }

    /// Removes one waiter (timed out or cancelled).
    package mutating func remove(id: UInt64) -> Waiter? {
        for (sensor, list) in waiters {
            guard let index = list.firstIndex(where: { $0.id == id }) else { continue }
            var remaining = list
            let removed = remaining.remove(at: index)
            waiters[sensor] = remaining.isEmpty ? nil : remaining
            return removed.waiter
        }
        return nil
    }

    /// Removes every waiter (the client is done).
    package mutating func removeAll() -> [Waiter] {
        defer { waiters.removeAll() }
        return waiters.values.flatMap { $0.map(\.waiter) }
    }
}
