import Foundation
import MetricStore
import SensorHub
import SensorWire
import Testing
import TestSupport

/// The hub's history: every accepted reading's numbers in MetricStore, beside the fan-out.
@Suite("Hub history into MetricStore", .timeLimit(.minutes(1)))
struct HubHistoryTests {
    /// Waits (the deadline is the test's safety net) until `condition` holds.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    @Test("readings of a sensor nobody subscribes to land in the store at their ts second, numbers only; a hub without history records nothing")
    func recordsAcceptedReadings() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let recorder = HistoryRecorder(host: "127.0.0.1", port: store.port)
        let hub = try Hub(port: 0, history: recorder)
        let plain = try Hub(port: 0)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1"])
        let plainAgent = plain.attachAgent(name: "agent", sensors: ["S1"])
        for index in 0..<20 {
            let readings: JSONValue = ["temperature": .number(20 + Double(index) / 10), "seq": .number(Double(index)),
                                       "ts": .number(1_700_000_000_000 + Double(index) * 1000), "unit": "C"]
            agent.publish("S1", readings)
            plainAgent.publish("S1", readings)
        }
        // A sensor the agent does not serve: refused by the hub, so not recorded either.
        agent.publish("S9", ["temperature": 1])
        #expect(try await Self.eventually { recorder.counts.stored == 20 }, "\(recorder.counts)")
        let client = MetricStoreClient(host: "127.0.0.1", port: store.port, timeout: .seconds(15))
        defer { client.close() }
        let points = try await client.get("*")
        #expect(Array(points.keys) == ["S1.temperature"], "seq, ts and strings are not metrics; S9 is not served")
        #expect(points["S1.temperature"]?.map(\.timestamp) == Array(1_700_000_000...1_700_000_019))
        #expect(points["S1.temperature"]?.last?.value == 21.9)
        #expect(recorder.counts.dropped == 0 && plain.history == nil)
        await hub.stop()
        await plain.stop()
    }

    @Test("the store killed and restarted on its port: recording resumes by itself, the points sent meanwhile counted lost")
    func storeRestarted() async throws {
        var store: MetricStoreServer? = try MetricStoreServer(port: 0)
        let port = try #require(store?.port)
        let recorder = HistoryRecorder(client: MetricStoreClient(host: "127.0.0.1", port: port, reconnect: Backoff(
            initialDelay: .milliseconds(20), maxDelay: .milliseconds(100), multiplier: 2, jitter: 0, maxAttempts: nil)), capacity: 1_000, window: 64)
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1"])
        func publish(_ seconds: Range<Int>) {
            for second in seconds { agent.publish("S1", ["t": .number(Double(second)), "ts": .number(Double(second) * 1000)]) }
        }
        publish(0..<50)
        #expect(try await Self.eventually { recorder.counts.stored == 50 }, "\(recorder.counts)")
        store?.stop()
        store = nil
        // While it is down: published, not stored, and counted once the recorder gives up on them.
        publish(50..<5_050)
        #expect(try await Self.eventually { recorder.counts.lost > 0 }, "\(recorder.counts)")
        let restarted = try MetricStoreServer(port: port)
        defer { restarted.stop() }
        let lostBefore = recorder.counts.lost
        // Recording resumes without anyone asking: new readings reach the new store.
        var next = 10_000
        #expect(try await Self.eventually {
            publish(next..<(next + 10))
            next += 10
            return restarted.pointCount > 0 && recorder.counts.stored > 50
        }, "\(recorder.counts)")
        let counts = recorder.counts
        #expect(counts.lost >= lostBefore && counts.stored + counts.lost + recorder.queued <= next - 10_000 + 5_050,
                "every point stored, lost or waiting, none twice: \(counts)")
        await hub.stop()
    }

    @Test("stopping the hub sends what the history still holds to the store first")
    func flushOnStop() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        // A flush timeout that is the test's safety net (under a loaded machine 20,000 puts
        // of a debug build can take longer than the default 2 s).
        let recorder = HistoryRecorder(client: MetricStoreClient(host: "127.0.0.1", port: store.port), flushTimeout: .seconds(60))
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1"])
        for second in 0..<20_000 { agent.publish("S1", ["t": .number(Double(second)), "ts": .number(Double(second) * 1000)]) }
        await hub.stop()
        #expect(recorder.counts.stored == 20_000 && recorder.counts.lost == 0, "\(recorder.counts)")
        let client = MetricStoreClient(host: "127.0.0.1", port: store.port, timeout: .seconds(15))
        defer { client.close() }
        #expect(try await client.get("S1.t")["S1.t"]?.count == 20_000)
    }

    @Test("a store that is down from the start: every point is counted lost (failed batches, then drops while the recorder waits), none stored")
    func storeDownFromTheStart() async throws {
        let refusing = try RefusingPort()
        let recorder = HistoryRecorder(client: MetricStoreClient(host: "127.0.0.1", port: refusing.port), capacity: 100, window: 10)
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1"])
        agent.publish("S1", ["t": 1])
        // The first batch fails at once (connection refused) and the recorder then waits.
        #expect(try await Self.eventually { recorder.counts.failed >= 1 }, "\(recorder.counts)")
        for index in 0..<5_000 { agent.publish("S1", ["t": .number(Double(index))]) }
        #expect(try await Self.eventually { recorder.counts.lost >= 5_000 - 100 }, "\(recorder.counts)")
        #expect(recorder.counts.stored == 0)
        #expect(recorder.counts.dropped > 0, "while it waits, the queue fills and drops: \(recorder.counts)")
        await hub.stop()
    }

    @Test("a store that never answers: the hub's readings go on, the history's overflow is dropped and counted, never waited on")
    func storeDown() async throws {
        // A store that accepts and never reads: puts pile up, the recorder's queue fills.
        let silent = try RawServer()
        defer { silent.close() }
        let recorder = HistoryRecorder(client: MetricStoreClient(host: "127.0.0.1", port: silent.port), capacity: 100, window: 10)
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1"])
        // Were publishing to wait for the store, this loop would never end (the suite's time limit).
        for index in 0..<5_000 { agent.publish("S1", ["t": .number(Double(index))]) }
        // At most the queue (100) and one batch taken from it (100) wait; the rest is dropped.
        #expect(try await Self.eventually { recorder.counts.dropped >= 5_000 - 2 * 100 }, "\(recorder.counts)")
        #expect(recorder.counts.stored == 0, "nothing was acknowledged by a store that never answers")
        await hub.stop()
    }
}
