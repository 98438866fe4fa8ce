import Locking
import SensorWire
import Testing
import TestSupport
@testable import SensorHub
@testable import SensorStream

/// Each operator example of the README runs on real readings from a hub, with the operator's
/// clock injected (a manual clock: the README's calls use the continuous clock by default),
/// and its output is asserted.
@Suite("README examples run on real readings", .timeLimit(.minutes(1)))
struct ReadmeExampleTests {
    func connectedClient() async throws -> (Hub, LocalAgent, SensorClient) {
        let (hub, _, agent) = try makeHub()
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        return (hub, agent, client)
    }

    /// Waits until the stream's loop is attached and the hub has its subscription: readings
    /// published before would be dropped by the hub.
    func attached(_ client: SensorClient, _ hub: Hub) async -> Bool {
        await eventually { client.consumerCount("CE7238J") == 1 && hub.subscriberCount("CE7238J") == 1 }
    }

    /// Publishes `values` and waits until the stream's consumer has taken them all.
    func publish(_ values: [Int], to agent: LocalAgent, client: SensorClient, total: Int) async {
        agent.publish(values.map { (sensorID: "CE7238J", readings: JSONValue.number(Double($0))) })
        #expect(await eventually { client.statistics.readingsReceived == total && client.engine.consumerIsWaiting("CE7238J") },
                "the operator has seen \(total) readings")
    }

    @Test("debounce(for: 300 ms): quiet for 300 ms, then the latest; each reading restarts the wait")
    func debounce() async throws {
        let (hub, agent, client) = try await connectedClient()
        defer { Task { await hub.stop() } }
        let clock = ManualClock()
        let output = Collector(client.readings("CE7238J").debounce(for: .milliseconds(300), clock: clock).map { $0.readings.intValue ?? -1 })
        #expect(await attached(client, hub))
        await publish([1], to: agent, client: client, total: 1)
        #expect(await clock.waitForDeadlines([.milliseconds(300)]))
        clock.advance(by: .milliseconds(300))
        #expect(await eventually { output.values == [1] })
        await publish([2], to: agent, client: client, total: 2)
        #expect(await clock.waitForDeadlines([.milliseconds(600)]))
        clock.advance(by: .milliseconds(100))
        await publish([3], to: agent, client: client, total: 3)
        clock.advance(by: .milliseconds(199))
        #expect(clock.sleeperDeadlines == [.milliseconds(600)] && output.values == [1], "2's deadline has not come")
        clock.advance(by: .milliseconds(1))
        #expect(await clock.waitForDeadlines([.milliseconds(700)]), "reading 3 moved the deadline: the timer sleeps on")
        clock.advance(by: .milliseconds(99))
        #expect(clock.sleeperDeadlines == [.milliseconds(700)] && output.values == [1], "nothing before 300 ms of quiet")
        clock.advance(by: .milliseconds(1))
        #expect(await eventually { output.values == [1, 3] }, "2 was replaced by 3")
        await client.disconnect()
    }

    @Test("throttle(for: 1 s, latest: true): at most one per second, the latest")
    func throttle() async throws {
        let (hub, agent, client) = try await connectedClient()
        defer { Task { await hub.stop() } }
        let clock = ManualClock()
        let output = Collector(client.readings("CE7238J").throttle(for: .seconds(1), clock: clock, latest: true).map { $0.readings.intValue ?? -1 })
        #expect(await attached(client, hub))
        await publish([1, 2], to: agent, client: client, total: 2)
        #expect(await eventually { output.values == [1] }, "the first passes, the second waits")
        clock.advance(by: .milliseconds(999))
        await publish([3], to: agent, client: client, total: 3)
        #expect(output.values == [1], "still within the second")
        clock.advance(by: .milliseconds(1))
        await publish([4], to: agent, client: client, total: 4)
        #expect(await eventually { output.values == [1, 4] }, "after a second, the latest")
        await client.disconnect()
    }

    @Test("map(\\.readings).removeDuplicates(): repeats skipped")
    func removeDuplicates() async throws {
        let (hub, agent, client) = try await connectedClient()
        defer { Task { await hub.stop() } }
        let output = Collector(client.readings("CE7238J").map(\.readings).removeDuplicates())
        #expect(await attached(client, hub))
        await publish([1, 1, 2, 2, 2, 3, 1], to: agent, client: client, total: 7)
        #expect(await eventually { output.values == [1, 2, 3, 1] })
        await client.disconnect()
    }

    @Test("liveness(timeout: 5 s): elements pass, then .silent(since:) every 5 s of silence")
    func liveness() async throws {
        let (hub, agent, client) = try await connectedClient()
        defer { Task { await hub.stop() } }
        let clock = ManualClock()
        let output = Collector(client.readings("CE7238J").liveness(timeout: .seconds(5), clock: clock).map { event -> String in
            switch event {
            case .element(let reading): "element \(reading.readings.intValue ?? -1)"
            case .silent(let since): "silent \(since)"
            }
        })
        #expect(await attached(client, hub))
        await publish([1], to: agent, client: client, total: 1)
        #expect(await eventually { output.values == ["element 1"] })
        #expect(await clock.waitForDeadlines([.seconds(5)]))
        clock.advance(by: .seconds(5))
        #expect(await eventually { output.values == ["element 1", "silent 5.0 seconds"] })
        #expect(await clock.waitForDeadlines([.seconds(10)]))
        clock.advance(by: .seconds(5))
        #expect(await eventually { output.values == ["element 1", "silent 5.0 seconds", "silent 10.0 seconds"] })
        await client.disconnect()
    }

    @Test("withRetry(config.reconnect.backoff) { _ in try await client.connect() }: retries until the server is there")
    func retryConnect() async throws {
        let (hub, _, _) = try makeHub()
        defer { Task { await hub.stop() } }
        let proxy = try FaultProxy(upstreamPort: hub.port)
        defer { proxy.stop() }
        proxy.setUpstreamPort(nil)  // the server is down: every connect fails
        let client = SensorClient(host: "127.0.0.1", port: proxy.port, configuration: testConfiguration())
        let clock = ManualClock()
        let attempts = LockedValue(0)
        let backoff = client.configuration.reconnect.backoff
        let retrying = Task {
            try await withRetry(backoff, clock: clock, unitRandom: { 0.5 }) { attempt in
                attempts.withLock { $0 = attempt + 1 }
                try await client.connect()
            }
        }
        #expect(await clock.waitForDeadlines([.milliseconds(20)]), "the first failure waits the first backoff delay")
        #expect(attempts.withLock { $0 } == 1)
        proxy.setUpstreamPort(hub.port)  // the server is back
        clock.advance(by: .milliseconds(20))
        try await retrying.value
        #expect(attempts.withLock { $0 } == 2)
        #expect(client.currentState == .connected)
        await client.disconnect()
    }
}
