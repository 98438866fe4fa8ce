import Locking
import SensorWire
import Testing
import TestSupport
@testable import SensorHub
@testable import SensorStream

/// Every kind of loss on the client's side shows in `statistics`, each under its own reason,
/// with a listener that keeps up beside the one that does not as the control.
@Suite("Every drop is counted", .timeLimit(.minutes(1)))
struct DropCounterTests {
    /// Counts what a stream delivers, in a task (it keeps up: the control beside an idle listener).
    final class Counter: Sendable {
        private let count = LockedValue(0)
        private let task: Task<Void, Never>
        init<S: AsyncSequence & Sendable>(_ sequence: S) where S.Failure == Never {
            let count = count
            task = Task { for await _ in sequence { count.withLock { $0 += 1 } } }
        }
        deinit { task.cancel() }
        var value: Int { count.withLock { $0 } }
    }

    @Test("readings of a subscribed sensor without a consumer are counted, not silently discarded")
    func readingsWithoutConsumer() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        try await client.subscribe("CE7238J")
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        for value in 0..<5 { agent.publish("CE7238J", .number(Double(value))) }
        #expect(await eventually { client.statistics.readingsWithoutConsumer == 5 })
        #expect(client.statistics.readingsReceived == 0)
        // Control: with a consumer, the next reading is received and not counted as lost.
        let consumer = Counter(client.readings("CE7238J"))
        #expect(await eventually { client.consumerCount("CE7238J") == 1 && client.engine.consumerIsWaiting("CE7238J") })
        agent.publish("CE7238J", .number(5))
        #expect(await eventually { consumer.value == 1 })
        #expect(client.statistics.readingsReceived == 1 && client.statistics.readingsWithoutConsumer == 5)
        await client.disconnect()
    }

    @Test("frames and sensorStatuses listeners that fall more than 1024 behind: their losses are counted exactly")
    func broadcastListeners() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        // Two listeners of each that never read while 1,100 statuses arrive (one frame each:
        // nothing else is sent to this client): each keeps the newest 1024 and loses 76.
        let idleFrames = [client.frames, client.frames]
        let idleStatuses = [client.sensorStatuses, client.sensorStatuses]
        try await client.subscribe("TEMP01")
        #expect(await eventually { hub.subscriberCount("TEMP01") == 1 })
        for _ in 0..<550 {
            agent.removeSensor("TEMP01")
            agent.addSensor("TEMP01")
        }
        #expect(await eventually { client.statistics.sensorStatusesDropped == 2 * 76 })
        #expect(await eventually { client.statistics.framesDropped == 2 * 76 })
        // What each kept: exactly the newest 1024, the last being the final "connected".
        let kept = await collect(idleStatuses[0], count: 1024, timeout: .seconds(5))
        #expect(kept.count == 1024 && kept.last == SensorStatus(sensorID: "TEMP01", connected: true))
        #expect(await collect(idleFrames[0], count: 1024, timeout: .seconds(5)).count == 1024)
        await client.disconnect()
    }

    @Test("a connectionStates listener that falls more than 64 behind: its losses are counted exactly")
    func connectionStates() async throws {
        let (hub, _, _) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        let idle = client.connectionStates
        let all = Counter(client.connectionStates)
        var reconnects = 0
        while all.value <= 70 && reconnects < 100 {
            // The client's own connection is dropped (not the hub's view of it, which lags on a
            // loaded machine): exactly one loss, one reconnect, each time.
            #expect(await eventually { client.currentState == .connected })
            client.engine.abortConnection()
            reconnects += 1
            let expected = reconnects
            #expect(await eventually { client.statistics.reconnects == expected && client.currentState == .connected })
        }
        #expect(await eventually { client.statistics.connectionStatesDropped == all.value - 64 })
        _ = idle
        await client.disconnect()
    }
}
