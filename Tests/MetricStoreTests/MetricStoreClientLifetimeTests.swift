import Testing
import TestSupport
@testable import MetricStore

@Suite("MetricStoreClient: release, cancellation and timeouts", .timeLimit(.minutes(1)))
struct MetricStoreClientLifetimeTests {
    /// `put` answered by the watched peer: once connection `index` has received `line` lines
    /// (this put's the last), the peer answers `ok`.
    private static func answeredPut(_ client: MetricStoreClient, on peers: WatchedPeers, index: Int, line: Int = 1) async throws {
        let put = Task { try await client.put("k", 1, timestamp: 100) }
        #expect(await peers.waitForLines(index, count: line))
        peers.write(Array("ok\n\n".utf8), to: index)
        try await put.value
    }

    @Test("released after an answered put: its connection ends; a client kept in the same test stays connected")
    func releasedWhileConnected() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let kept = MetricStoreClient(host: "127.0.0.1", port: peers.port, timeout: .seconds(20))
        try await Self.answeredPut(kept, on: peers, index: 0)
        var released: MetricStoreClient? = MetricStoreClient(host: "127.0.0.1", port: peers.port, timeout: .seconds(20))
        try await Self.answeredPut(try #require(released), on: peers, index: 1)
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await peers.waitForEnd(1), "the released client's connection ended")
        #expect(peers.endedWithFIN(1), "with a FIN (after a close frame, for WebSocket), not a reset")
        #expect(await eventually { engine.object == nil }, "its engine, driver and tasks are gone")
        #expect(!peers.hasEnded(0), "the kept client is still connected")
        try await Self.answeredPut(kept, on: peers, index: 0, line: 2)
        #expect(peers.acceptedCount == 2)
    }

    @Test("released while reconnecting: the backoff sleep ends and nothing connects again; a kept client does reconnect")
    func releasedWhileReconnecting() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        var configuration = MetricStoreClient.Configuration(timeout: .seconds(20))
        configuration.reconnect = Backoff(initialDelay: .seconds(60), maxDelay: .seconds(60), multiplier: 1, jitter: 0, maxAttempts: nil)
        let kept = MetricStoreClient(host: "127.0.0.1", port: peers.port, configuration: configuration, clock: clock)
        var released: MetricStoreClient? = MetricStoreClient(host: "127.0.0.1", port: peers.port, configuration: configuration, clock: clock)
        try await Self.answeredPut(kept, on: peers, index: 0)
        try await Self.answeredPut(try #require(released), on: peers, index: 1)
        peers.close(0)
        peers.close(1)
        #expect(await clock.waitForSleepers(2), "both back off for 60 s on the test clock")
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await eventually { clock.sleeperCount == 1 }, "the released client's backoff sleep was cancelled")
        #expect(await eventually { engine.object == nil }, "everything released")
        clock.advance(by: .seconds(60))
        #expect(await peers.waitForAccepted(3), "the kept client reconnected")
        try await Self.answeredPut(kept, on: peers, index: 2)
        #expect(peers.acceptedCount == 3, "only the kept client connected again")
    }

    @Test("a call from a task already cancelled ends with .cancelled at once, sending nothing; one cancelled while waiting too")
    func cancelledCalls() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: peers.port, timeout: nil)
        try await Self.answeredPut(client, on: peers, index: 0)
        let early = Task { () -> MetricStoreClientError? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(MetricStoreClientError) {
                try await client.put("early", 1, timestamp: 1)
                return nil
            } catch {
                return error
            }
        }
        #expect(await early.value == .cancelled)
        // Waiting without a timeout against a peer that never answers: only the cancel ends it.
        let waiting = Task { () -> MetricStoreClientError? in
            do throws(MetricStoreClientError) {
                _ = try await client.get("late")
                return nil
            } catch {
                return error
            }
        }
        #expect(await peers.waitForLines(0, count: 2))
        waiting.cancel()
        #expect(await waiting.value == .cancelled)
        let sent = String(decoding: peers.received(0), as: UTF8.self)
        #expect(!sent.contains("early"), "the call from the cancelled task sent nothing")
        #expect(sent.contains("get late\n"), "positive control: the other call was sent")
    }

    @Test("record against a server that never answers: cancelling it ends it with .cancelled (it has no timeout)")
    func recordCancelled() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: peers.port, timeout: nil)
        let samples = AsyncStream<MetricSample> { continuation in
            for second in 0..<100 { continuation.yield(MetricSample(key: "k", value: 1, timestamp: second)) }
            continuation.finish()
        }
        let recording = Task { try await client.record(samples, window: 8) }
        // Found by content, not by accept order: a client of an earlier test reconnecting to
        // this port (handed out again by the system) could have been accepted first.
        let recorded = await peers.waitForLines(count: 8, containing: "put k ")
        #expect(recorded != nil, "positive control: a window's worth went out, unanswered; connections: \(peers.firstBytes)")
        recording.cancel()
        let outcome = await recording.result
        #expect((try? outcome.get()) == nil)
        if case .failure(let error) = outcome { #expect(error as? MetricStoreClientError == .cancelled, "\(error)") }
    }

    @Test("a call against a server that never answers ends at its timeout (on the client's clock)")
    func timesOut() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        let client = MetricStoreClient(host: "127.0.0.1", port: peers.port, configuration: .init(timeout: .seconds(5)), clock: clock)
        let call = Task { () -> MetricStoreClientError? in
            do throws(MetricStoreClientError) {
                try await client.put("k", 1, timestamp: 100)
                return nil
            } catch {
                return error
            }
        }
        #expect(await peers.waitForLines(0, count: 1), "the put went out")
        #expect(await clock.waitForDeadlines([.seconds(5)]), "its timeout is armed on the client's clock")
        clock.advance(by: .seconds(5))
        #expect(await call.value == .timeout)
    }
}
