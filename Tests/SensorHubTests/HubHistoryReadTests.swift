import Foundation
import MetricStore
import SensorStream
import SensorWire
import Testing
import TestSupport
@testable import SensorHub

/// `sensor_history`: apps reading what the hub recorded, through the hub.
@Suite("Hub history read by apps", .timeLimit(.minutes(1)))
struct HubHistoryReadTests {
    @Test("the core: a checked request becomes a read; without history 503; a wrong one 400; past the rate limit 429, then allowed again")
    func core() {
        var core = HubCore(limits: HubLimits(historyRequestsPerSecond: 2, pendingHistoryReadsPerConnection: 100))
        core.recordsReadings = true
        core.connected(1, credential: .none, address: "app")
        var effects = HubEffects()
        for index in 0..<5 {
            core.handle(.app(.history(HistoryRequest(requestID: "h\(index)", sensorID: "S", from: 1, to: 2))), from: 1, now: .zero, into: &effects)
        }
        #expect(effects.historyReads.map(\.query.requestID) == ["h0", "h1", "h2", "h3"], "a burst of twice the rate")
        #expect(effects.deliveries.map(\.message) == [
            .historyResponse(requestID: "h4", status: 429, data: ["error": "more than 2 history requests a second"])])
        #expect(core.counters.limitsExceeded == 1 && effects.refusal == nil, "answered, not closed")
        effects = HubEffects()
        core.handle(.app(.history(HistoryRequest(requestID: "h5", sensorID: "S", from: 1, to: 2))), from: 1, now: .seconds(1), into: &effects)
        #expect(effects.historyReads.map(\.query.requestID) == ["h5"], "the bucket refills")
        effects = HubEffects()
        core.handle(.app(.invalidHistory(.init(requestID: "h6", reason: "from must be a whole number of unix seconds"))), from: 1, now: .seconds(2), into: &effects)
        core.handle(.app(.history(HistoryRequest(requestID: "h7", sensorID: "S", from: 3, to: 2))), from: 1, now: .seconds(2), into: &effects)
        #expect(effects.historyReads.isEmpty)
        #expect(effects.deliveries.map(\.message) == [
            .historyResponse(requestID: "h6", status: 400, data: ["error": "from must be a whole number of unix seconds"]),
            .historyResponse(requestID: "h7", status: 400, data: ["error": "from (3) is after to (2)"])])

        var plain = HubCore()
        plain.connected(1, credential: .none, address: "app")
        effects = HubEffects()
        plain.handle(.app(.history(HistoryRequest(requestID: "h", sensorID: "S", from: 1, to: 2))), from: 1, now: .zero, into: &effects)
        #expect(effects.historyReads.isEmpty)
        #expect(effects.deliveries.first?.message == .historyResponse(requestID: "h", status: 503, data: [
            "error": "this hub records no history (start it with --history metrics://HOST:PORT)"]))
    }

    @Test("the core bounds the reads of one connection (429) and of all (503), and a range to 31 days (400); a finished read frees its place")
    func readLimits() {
        var core = HubCore(limits: HubLimits(historyRequestsPerSecond: 100, pendingHistoryReadsPerConnection: 2, historyReadsAtOnce: 3))
        core.recordsReadings = true
        for peer: UInt64 in 1...2 { core.connected(peer, credential: .none, address: "app") }
        func ask(_ id: String, from peer: UInt64, span: Int64 = 60) -> HubEffects {
            var effects = HubEffects()
            core.handle(.app(.history(HistoryRequest(requestID: id, sensorID: "S", from: 0, to: span))), from: peer, now: .zero, into: &effects)
            return effects
        }
        #expect(ask("a1", from: 1).historyReads.count == 1 && ask("a2", from: 1).historyReads.count == 1)
        let third = ask("a3", from: 1)
        #expect(third.historyReads.isEmpty)
        #expect(third.deliveries.map(\.message) == [.historyResponse(requestID: "a3", status: 429, data: ["error": "more than 2 history requests waiting for the store"])])
        #expect(ask("b1", from: 2).historyReads.count == 1, "another connection has its own places")
        let busy = ask("b2", from: 2)
        #expect(busy.deliveries.map(\.message) == [.historyResponse(requestID: "b2", status: 503, data: ["error": "the hub is reading 3 histories at once; try again"])])
        core.historyReadFinished(1)
        #expect(ask("a4", from: 1).historyReads.count == 1, "a finished read frees its place")
        core.historyReadFinished(1)
        core.historyReadFinished(2)
        let long = ask("b3", from: 2, span: HistoryQuery.maxSpanSeconds)
        #expect(long.deliveries.map(\.message) == [.historyResponse(requestID: "b3", status: 400, data: ["error": "a range of at most 31 days (2678400 seconds)"])])
        #expect(ask("b4", from: 2, span: HistoryQuery.maxSpanSeconds - 1).historyReads.count == 1, "31 days exactly")
        #expect(core.historyReadsInFlight == 2, "a4 and b4")
    }

    @Test("stopping the hub cancels a history read the store never answers and waits for it to end")
    func stopCancelsReads() async throws {
        try await Self.withSilentReader { hub, client, silent in
            let asking = Task { try await client.history("S1", from: 0, to: 10) }
            // The read is on its way: the reader connected to the silent store.
            let reader = try await onThread { try silent.accept() }
            defer { reader.close() }
            #expect(hub.historyReadsRunning == 1, "positive control: the read waits for the store")
            await hub.stop()
            #expect(hub.historyReadsRunning == 0, "cancelled and ended before the recorder closed its reader")
            await client.disconnect()
            _ = try? await asking.value
        }
    }

    /// A hub recording into a real store and reading history from one that accepts and never
    /// answers (no timeout), with a connected app; `body` gets them and the silent store.
    static func withSilentReader(_ body: (Hub, SensorClient, RawServer) async throws -> Void) async throws {
        let silent = try RawServer()
        defer { silent.close() }
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let recorder = HistoryRecorder(client: MetricStoreClient(host: "127.0.0.1", port: store.port),
                                       reader: MetricStoreClient(host: "127.0.0.1", port: silent.port))
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1"])
        agent.publish("S1", ["t": 1])
        #expect(try await HubHistoryTests.eventually { recorder.counts.stored == 1 })
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(requestTimeout: .seconds(60), heartbeat: .disabled))
        try await client.connect()
        try await body(hub, client, silent)
    }

    @Test("an app that leaves: its history reads are cancelled and free their places")
    func leavingAppCancelsReads() async throws {
        try await Self.withSilentReader { hub, client, silent in
            let asking = (0..<3).map { _ in Task { try await client.history("S1", from: 0, to: 10) } }
            let reader = try await onThread { try silent.accept() }
            defer { reader.close() }
            #expect(await eventually { hub.historyReadsRunning == 3 }, "positive control: three reads wait for the store")
            await client.disconnect()
            #expect(await eventually { hub.historyReadsRunning == 0 }, "the app left: its reads ended")
            for task in asking { _ = try? await task.value }
            await hub.stop()
        }
    }

    @Test("end to end on loopback: an agent's readings, recorded, read back by an app with their seconds and values, whole and downsampled")
    func endToEnd() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let recorder = HistoryRecorder(host: "127.0.0.1", port: store.port)
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "agent", sensors: ["S1", "S2"])
        let start: Int = 1_700_000_000
        for index in 0..<120 {
            agent.publish("S1", ["temperature": .number(20 + Double(index) / 8), "humidity": .number(Double(index)),
                                 "ts": .number(Double(start + index) * 1000), "seq": .number(Double(index))])
        }
        agent.publish("S2", ["gps": ["lat": 1.5], "ts": .number(Double(start) * 1000)])
        #expect(try await HubHistoryTests.eventually { recorder.counts.stored == 241 }, "\(recorder.counts)")
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled))
        try await client.connect()

        let temperature = try await client.history("S1", field: "temperature", from: start, to: start + 119, maxPoints: 1000)
        #expect(temperature.sensorID == "S1" && temperature.from == start && temperature.to == start + 119)
        let points = temperature.series["temperature"] ?? []
        #expect(points.map(\.time) == Array(start..<(start + 120)))
        #expect(points.map(\.average) == (0..<120).map { 20 + Double($0) / 8 })
        #expect(points.allSatisfy { $0.count == 1 && $0.minimum == $0.average && $0.maximum == $0.average })

        let all = try await client.history("S1", from: start + 10, to: start + 19)
        #expect(all.series.keys.sorted() == ["humidity", "temperature"], "every field the hub recorded; seq and ts are not fields")
        #expect(all.series["humidity"]?.map(\.average) == (10..<20).map(Double.init))

        let buckets = try await client.history("S1", field: "humidity", from: start, to: start + 119, maxPoints: 10)
        #expect(buckets.series["humidity"] == (0..<10).map { bucket in
            let values = (bucket * 12..<(bucket + 1) * 12).map(Double.init)
            return HistoryPoint(time: start + bucket * 12, average: values.reduce(0, +) / 12, minimum: values[0], maximum: values[11], count: 12)
        })

        let nested = try await client.history("S2", from: start, to: start)
        #expect(nested.series == ["gps.lat": [HistoryPoint(time: start, average: 1.5, minimum: 1.5, maximum: 1.5, count: 1)]])
        #expect(try await client.history("S1", field: "temperature", from: start + 500, to: start + 600).series == ["temperature": []])
        #expect(try await client.history("S9", from: start, to: start + 600).series.isEmpty, "a sensor with no fields recorded")

        await #expect(throws: SensorClientError.invalidArgument("from (5) is after to (4)")) {
            try await client.history("S1", from: 5, to: 4)
        }
        await #expect(throws: SensorClientError.invalidArgument("field must be a field name without whitespace or control characters")) {
            try await client.history("S1", field: "a b", from: 4, to: 5)
        }
        await client.disconnect()
        await hub.stop()
    }

    @Test("a hub without history answers 503; a hub whose store is unreachable answers 503 saying why; neither closes the app's connection")
    func unavailable() async throws {
        let plain = try Hub(port: 0)
        let refusing = try RefusingPort()
        let recorder = HistoryRecorder(client: MetricStoreClient(host: "127.0.0.1", port: refusing.port, timeout: .seconds(10)))
        let broken = try Hub(port: 0, history: recorder)
        for hub in [plain, broken] {
            let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled))
            try await client.connect()
            do {
                _ = try await client.history("S1", field: "t", from: 1, to: 2)
                Issue.record("answered with history")
            } catch .requestRefused(let status, let reason) {
                #expect(status == 503)
                #expect(reason.contains(hub === plain ? "records no history" : "history unavailable: connection failed"), "\(reason)")
            } catch {
                Issue.record("\(error)")
            }
            #expect(try await client.sensors().isEmpty, "the connection is still in use")
            await client.disconnect()
            await hub.stop()
        }
    }
}
