import Foundation
import Locking
import MetricStore
import Testing
import TestSupport

/// Retention: points older than the configured duration are dropped, in memory while the
/// server runs (on the server's clock, injected here) and from the data file at start.
@Suite("MetricStore retention", .timeLimit(.minutes(1)))
struct MetricStoreRetentionTests {
    @Test("the store drops points before a horizon: keys left empty are forgotten, the others keep their order and points")
    func storageHorizon() {
        var storage = MetricStorage()
        for (key, timestamps) in [("old", [1, 2]), ("mixed", [3, 10, 20]), ("new", [15])] {
            for timestamp in timestamps { storage.put(key, Double(timestamp), timestamp: Int64(timestamp)) }
        }
        #expect(storage.removePoints(before: 3) == 2)
        #expect(storage.keys == ["mixed", "new"])
        #expect(storage.get("*").map(\.point.timestamp) == [3, 10, 20, 15])
        #expect(storage.removePoints(before: 3) == 0, "nothing left before the horizon")
        #expect(storage.removePoints(before: 16) == 3)
        #expect(storage.get("*").map(\.point.timestamp) == [20])
        storage.put("old", 1, timestamp: 30)
        #expect(storage.keys == ["mixed", "old"], "a forgotten key comes back as a new one, listed last")
        #expect(storage.removePoints(before: .min) == 0)
        #expect(storage.removePoints(before: .max) == 2 && storage.keys.isEmpty && storage.pointCount == 0)
    }

    @Test("a running server drops what falls behind the retention as its clock moves; without retention nothing is dropped")
    func runningServer() async throws {
        let clock = LockedValue<Int64>(1_000)
        let server = try MetricStoreServer(port: 0, configuration: .init(retention: .seconds(60)), now: { clock.withLock { $0 } })
        defer { server.stop() }
        let control = try MetricStoreServer(port: 0, now: { clock.withLock { $0 } })
        defer { control.stop() }
        for target in [server, control] {
            let client = MetricStoreClient(host: "127.0.0.1", port: target.port, timeout: .seconds(15))
            for second in 900...1_000 { try await client.put("cpu", Double(second), timestamp: second) }
            client.close()
        }
        // The server also sweeps by itself every 6 s: on a loaded machine it may have been
        // first, so the state is checked, not what this call removed.
        server.removeExpiredPoints()
        #expect(server.pointCount == 61, "900 ... 939 are older than 1,000 - 60 s")
        #expect(control.removeExpiredPoints() == 0 && control.pointCount == 101, "control: no retention, all kept")
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        defer { client.close() }
        #expect(try await client.get("cpu")["cpu"]?.map(\.timestamp) == Array(940...1_000))
        clock.withLock { $0 = 1_050 }
        server.removeExpiredPoints()
        #expect(server.pointCount == 11)
        #expect(try await client.get("cpu", from: 0, to: 2_000)["cpu"]?.map(\.timestamp) == Array(990...1_000))
        clock.withLock { $0 = 5_000 }
        server.removeExpiredPoints()
        #expect(server.pointCount == 0)
        #expect(try await client.get("*") == [:])
    }

    @Test("at start, points older than the retention leave memory and the compacted data file")
    func dataFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("retention-\(UUID().uuidString).journal").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try MetricStoreServer(port: 0, configuration: .init(dataFile: path), now: { 0 })
        let client = MetricStoreClient(host: "127.0.0.1", port: writer.port, timeout: .seconds(15))
        for second in 1...10 { try await client.put("a", Double(second), timestamp: second) }
        try await client.put("b", 1, timestamp: 2)
        client.close()
        writer.stop()

        let kept = try MetricStoreServer(port: 0, configuration: .init(dataFile: path, retention: .seconds(5)), now: { 12 })
        #expect(kept.pointCount == 4, "7 ... 10 of a; b's only point (2) is gone")
        #expect(kept.startupNotes.contains { $0.contains("dropped 7 points older than the retention") }, "\(kept.startupNotes)")
        kept.stop()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == "put a 7.0 7\nput a 8.0 8\nput a 9.0 9\nput a 10.0 10\n", "\(text.debugDescription)")

        let everything = try MetricStoreServer(port: 0, configuration: .init(dataFile: path, retention: .seconds(Int64.max)), now: { 12 })
        #expect(everything.pointCount == 4 && everything.startupNotes.isEmpty, "a retention past the clock's start keeps everything")
        everything.stop()
    }

    @Test("the server sweeps by itself: once its clock passes the retention, the points go without any call")
    func sweepsByItself() async throws {
        let clock = LockedValue<Int64>(100)
        let server = try MetricStoreServer(port: 0, configuration: .init(retention: .seconds(3)), now: { clock.withLock { $0 } })
        defer { server.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        defer { client.close() }
        for second in 98...100 { try await client.put("cpu", 1, timestamp: second) }
        #expect(server.pointCount == 3, "within the retention: kept")
        clock.withLock { $0 = 1_000 }
        // The sweep runs every second (a tenth of 3 s, at least 1 s); the deadline is the
        // test's safety net only.
        let deadline = ContinuousClock.now + .seconds(20)
        while server.pointCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.pointCount == 0)
    }

    @Test("a retention of zero or less is refused with a typed error")
    func invalidRetention() {
        for retention in [Duration.zero, .seconds(-5)] {
            #expect(throws: MetricStoreServerError.self) { try MetricStoreServer(port: 0, configuration: .init(retention: retention)) }
        }
        #expect((try? MetricStoreServer(port: 0, configuration: .init(retention: .seconds(1))))?.port ?? 0 > 0, "control: 1 s works")
    }

    @Test("repeated retention over one key keeps exactly the points at or after each horizon, and puts in between land right")
    func repeatedHorizons() {
        var storage = MetricStorage()
        var model: [Int64: Double] = [:]
        for second in Int64(0)..<1_000 { storage.put("k", Double(second), timestamp: second); model[second] = Double(second) }
        for horizon in stride(from: Int64(7), to: 1_100, by: 37) {
            storage.removePoints(before: horizon)
            model = model.filter { $0.key >= horizon }
            // A put before the horizon (late data), one inside, one after the last.
            for second in [horizon + 3, horizon + 500, 2_000 + horizon] { storage.put("k", -1, timestamp: second); model[second] = -1 }
            let expected = model.sorted { $0.key < $1.key }.map { MetricPoint(timestamp: Int($0.key), value: $0.value) }
            #expect(storage.get("k").map(\.point) == expected, "after the horizon \(horizon)")
            #expect(storage.pointCount == model.count)
            #expect(storage.get("k", from: horizon, to: horizon + 10).map(\.point) == expected.filter { $0.timestamp <= horizon + 10 })
        }
    }

    @Test("the sweep interval: every minute, a tenth of a shorter retention, at least every second")
    func sweepInterval() {
        #expect(MetricStoreServer.sweepInterval(retention: .seconds(7 * 86_400)) == .seconds(60))
        #expect(MetricStoreServer.sweepInterval(retention: .seconds(100)) == .seconds(10))
        #expect(MetricStoreServer.sweepInterval(retention: .seconds(3)) == .seconds(1))
        #expect(MetricStoreServer.horizon(now: .min + 5, retention: .seconds(10)) == .min)
    }
}
