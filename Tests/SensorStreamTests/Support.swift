import Locking
@testable import SensorHub
@testable import SensorStream
import TestSupport
import SensorWire

/// Records what a hub sees, so tests can assert on the messages a client put on the wire.
final class HubRecorder: Sendable {
    let hub: Hub
    private let events = LockedValue<[HubEvent]>([])
    private let task: Task<Void, Never>

    init(_ hub: Hub) {
        self.hub = hub
        let events = self.events
        task = Task { for await event in hub.events { events.withLock { $0.append(event) } } }
    }

    deinit { task.cancel() }

    /// Every app message received so far, per peer order.
    var messages: [ClientMessage] {
        events.withLock { $0.compactMap { if case .appMessage(_, let message) = $0 { message } else { nil } } }
    }

    var allEvents: [HubEvent] { events.withLock { $0 } }

    /// Waits until `count` app messages arrived; returns them (possibly fewer on timeout).
    func waitForMessages(_ count: Int, timeout: Duration = .seconds(30)) async -> [ClientMessage] {
        _ = await eventually(timeout: timeout) { self.messages.count >= count }
        return messages
    }

    /// Waits until `message` has been received `times` times.
    func waitFor(_ message: ClientMessage, times: Int = 1, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.messages.filter { $0 == message }.count >= times }
    }
}

/// A hub on loopback with one in-process agent serving `sensors`.
func makeHub(sensors: [String] = ["CE7238J", "TEMP01", "HUM02"]) throws -> (Hub, HubRecorder, LocalAgent) {
    let hub = try Hub()
    let recorder = HubRecorder(hub)
    let agent = hub.attachAgent(name: "agent-1", sensors: sensors)
    return (hub, recorder, agent)
}

/// A configuration for tests: quick reconnects, no heartbeat unless asked.
func testConfiguration(heartbeat: SensorClient.Heartbeat = .disabled) -> SensorClient.Configuration {
    SensorClient.Configuration(requestTimeout: .seconds(30), heartbeat: heartbeat,
                               reconnect: .init(initialDelay: .milliseconds(20), maxDelay: .milliseconds(200), jitter: 0))
}

/// Takes the next `count` elements of a sequence within `timeout` (fewer if it ends or times out).
func collect<S: AsyncSequence & Sendable>(_ sequence: S, count: Int, timeout: Duration = .seconds(30)) async -> [S.Element]
where S.Element: Sendable {
    await withTaskGroup(of: [S.Element]?.self) { group in
        group.addTask {
            var collected: [S.Element] = []
            do {
                for try await element in sequence {
                    collected.append(element)
                    if collected.count == count { break }
                }
            } catch {}
            return collected
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? []
    }
}

/// Reads a sequence to its end: whether it ended within `timeout` (the test's safety net, not
/// the thing measured), and what it yielded before. "It finished" is then checked directly,
/// not inferred from seeing nothing for a while.
func drain<S: AsyncSequence & Sendable>(_ sequence: S, timeout: Duration = .seconds(30)) async -> (ended: Bool, elements: [S.Element])
where S.Element: Sendable {
    await withTaskGroup(of: (ended: Bool, elements: [S.Element])?.self) { group in
        group.addTask {
            var collected: [S.Element] = []
            do {
                for try await element in sequence { collected.append(element) }
            } catch {}
            return Task.isCancelled ? nil : (true, collected)
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? (false, [])
    }
}

extension SensorClient {
    /// How many consumers (loops, callbacks) currently read `sensorID`: tests wait for this
    /// before publishing, so that no consumer misses a reading because its task started late.
    func consumerCount(_ sensorID: String) -> Int {
        engine.consumerCount(sensorID)
    }
}

/// Consumes a sequence in its own task, recording every element and how it ended, so a test
/// can drive time and input and then wait for the exact output.
final class Collector<Element: Sendable>: Sendable {
    private struct Record: Sendable {
        var values: [Element] = []
        var ended = false
        var failure: (any Error)?
    }

    private let record = LockedValue(Record())
    private let task: Task<Void, Never>

    init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Element == Element {
        let record = record
        task = Task {
            do {
                for try await value in sequence { record.withLock { $0.values.append(value) } }
            } catch {
                record.withLock { $0.failure = error }
            }
            record.withLock { $0.ended = true }
        }
    }

    deinit { task.cancel() }

    /// What arrived so far.
    var values: [Element] { record.withLock { $0.values } }
    /// The error the sequence threw, if it did.
    var failure: (any Error)? { record.withLock { $0.failure } }

    /// Stops consuming (cancels the task).
    func cancel() { task.cancel() }

    /// Waits until the sequence ended (finished, threw or was cancelled).
    func waitForEnd() async -> Bool {
        await eventually { self.record.withLock { $0.ended } }
    }
}

extension Collector where Element: Equatable {
    /// Waits until exactly `expected` arrived.
    func waitFor(_ expected: [Element]) async -> Bool {
        await eventually { self.values == expected }
    }
}
