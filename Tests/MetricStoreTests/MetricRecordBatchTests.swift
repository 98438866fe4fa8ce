import Foundation
import MetricStore
import Testing
import TestSupport

/// `record` sends a window's puts a batch at a time and counts their answers in runs: what
/// that must never change.
@Suite("MetricStore record: batches, runs of answers, reconnects", .timeLimit(.minutes(1)))
struct MetricRecordBatchTests {
    static func samples(_ range: Range<Int>) -> [MetricSample] {
        range.map { MetricSample(key: "s", value: Double($0), timestamp: $0) }
    }

    static func lines(_ samples: [MetricSample]) -> [UInt8] {
        var bytes: [UInt8] = []
        for sample in samples {
            MetricCommand.put(key: sample.key, value: sample.value, timestamp: Int64(sample.timestamp)).append(to: &bytes)
        }
        return bytes
    }

    @Test("a connection lost after answering part of a batch: the next one gets exactly the puts not answered, in order, and every put is counted once")
    func reconnectMidBatch() async throws {
        let server = try RawServer()
        defer { server.close() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15),
                                       reconnect: Backoff(initialDelay: .milliseconds(10), maxDelay: .milliseconds(50), multiplier: 2, jitter: 0, maxAttempts: nil))
        defer { client.close() }
        let all = Self.samples(0..<40)
        // Window 64: batches of 16, 16 and 8, all on the wire at once.
        let recording = Task { try await client.record(all, window: 64) }
        let serverSide = Task {
            try await onThread {
                let first = try server.accept()
                #expect(try first.read(count: Self.lines(all).count) == Self.lines(all))
                // The first batch whole and 4 of the second answered; then the connection ends.
                try first.write(Array(String(repeating: "ok\n\n", count: 20).utf8))
                first.close()
                let next = try server.accept()
                let expected = Self.lines(Array(all[20...]))
                #expect(try next.read(count: expected.count) == expected, "the 20 puts not answered, in order")
                try next.write(Array(String(repeating: "ok\n\n", count: 20).utf8))
                // Positive control for "nothing more": the put the test makes next is what follows.
                let probe = Array("put probe 1.0 1\n".utf8)
                #expect(try next.read(count: probe.count) == probe, "only the probe follows the replay")
                try next.write(Array("ok\n\n".utf8))
            }
        }
        #expect(try await recording.value == 40, "every put counted once")
        try await client.put("probe", 1, timestamp: 1)
        try await serverSide.value
    }

    @Test("a slow live sequence: each sample is stored while the sequence is still open, not held back for a batch")
    func slowSequence() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: store.port, timeout: .seconds(15))
        defer { client.close() }
        let (samples, continuation) = AsyncStream.makeStream(of: MetricSample.self)
        let recording = Task { try await client.record(samples, window: 1024) }
        for second in 0..<3 {
            continuation.yield(MetricSample(key: "live", value: Double(second), timestamp: second))
            #expect(await eventually { store.pointCount == second + 1 }, "sample \(second) stored before the next is made")
        }
        continuation.finish()
        #expect(try await recording.value == 3)
    }

    @Test("an invalid sample in an AsyncSequence: the ones before it are stored, the sequence is no longer read")
    func invalidSampleInAStream() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: store.port, timeout: .seconds(15))
        defer { client.close() }
        let samples = AsyncStream<MetricSample> { continuation in
            for index in 0..<2_000 { continuation.yield(MetricSample(key: index == 700 ? "" : "s", value: Double(index), timestamp: index)) }
            continuation.finish()
        }
        await #expect(throws: MetricStoreClientError.invalidKey("")) { try await client.record(samples, window: 64) }
        #expect(try await client.get("s")["s"]?.map(\.timestamp) == Array(0..<700))
    }

    @Test("a sequence at hand: an invalid sample stops the recording after the ones before it are stored")
    func invalidSampleInASequence() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: store.port, timeout: .seconds(15))
        defer { client.close() }
        var samples = Self.samples(0..<300)
        samples[250] = MetricSample(key: "a b", value: 1, timestamp: 1)
        await #expect(throws: MetricStoreClientError.invalidKey("a b")) { try await client.record(samples, window: 64) }
        let stored = try await client.get("s")["s"] ?? []
        #expect(stored.map(\.timestamp) == Array(0..<250), "the 250 before it, none after")
        samples[250] = MetricSample(key: "s", value: .nan, timestamp: 1)
        do {
            _ = try await client.record(samples[250...], window: 64)
            Issue.record("a NaN was recorded")
        } catch .invalidValue(let value) {
            #expect(value.isNaN)
        } catch {
            Issue.record("\(error)")
        }
        #expect(try await client.record(Self.samples(300..<1_000), window: 8) == 700, "positive control: a valid sequence is stored whole")
        #expect(try await client.get("s")["s"]?.count == 950)
    }
}
