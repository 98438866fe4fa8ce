import SensorWire
import Testing
import WebSocketCore
import TestSupport
@testable import SensorHub
@testable import SensorStream

@Suite("A client the app lets go of shuts down", .timeLimit(.minutes(1)))
struct ClientLifetimeTests {
    @Test("releasing the last reference: client_disconnect and close 1001 reach the hub, the engine is freed")
    func releasedClientShutsDown() async throws {
        let (hub, recorder, _) = try makeHub()
        defer { Task { await hub.stop() } }
        var client: SensorClient? = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client?.connect()
        try await client?.subscribe("CE7238J")
        #expect(await recorder.waitFor(.subscribe(sensorID: "CE7238J")))
        let engine = WeakReference(object: client?.engine)
        // Positive control: while the app holds the client, its connection stays open.
        #expect(hub.connectionCount == 1)
        #expect(engine.object != nil)
        client = nil
        #expect(await recorder.waitFor(.disconnect), "client_disconnect was sent")
        #expect(await eventually { hub.connectionCount == 0 }, "the connection was closed")
        let closeCodes: @Sendable () -> [Int] = {
            recorder.allEvents.compactMap { if case .peerDisconnected(_, let code, _) = $0 { code } else { nil } }
        }
        #expect(await eventually { !closeCodes().isEmpty })
        #expect(closeCodes() == [1001], "the client closed with 1001 (going away)")
        #expect(await eventually { engine.object == nil }, "the engine, its driver and tasks are gone")
    }

    @Test("a released client that is reconnecting stops trying: its backoff sleep ends, nothing is opened again")
    func releasedWhileReconnecting() async throws {
        let (hub, _, _) = try makeHub()
        let port = hub.port
        var configuration = testConfiguration()
        configuration.reconnect = .init(initialDelay: .seconds(60), maxDelay: .seconds(60), jitter: 0)
        let clock = ManualClock()
        var client: SensorClient? = SensorClient(host: "127.0.0.1", port: port, configuration: configuration, clock: clock)
        try await client?.connect()
        let engine = WeakReference(object: client?.engine)
        await hub.stop()
        #expect(await clock.waitForDeadlines([.seconds(60)]),
                "backing off for 60 s on the test clock; deadlines \(clock.sleeperDeadlines), state \(String(describing: engine.object?.currentState))")
        client = nil
        #expect(await eventually { clock.sleeperCount == 0 }, "the backoff sleep was cancelled")
        #expect(await eventually { engine.object == nil }, "everything released")
    }

    @Test("a call from a task already cancelled ends with .cancelled at once, sending nothing; one cancelled while waiting too")
    func cancelledCalls() async throws {
        let peers = try WatchedPeers(webSocket: true)
        defer { peers.stop() }
        let client = SensorClient(host: "127.0.0.1", port: peers.port, configuration: testConfiguration())
        try await client.connect()
        let early = Task { () -> SensorClientError? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(SensorClientError) {
                _ = try await client.sensorConnected("early")
                return nil
            } catch {
                return error
            }
        }
        #expect(await early.value == .cancelled)
        let waiting = Task { () -> SensorClientError? in
            do throws(SensorClientError) {
                _ = try await client.sensorConnected("late")
                return nil
            } catch {
                return error
            }
        }
        // Client frames are masked: what was sent is read back through the frame parser.
        let texts: @Sendable () -> [String] = {
            var collector = FrameCollector(FrameDecoder(role: .server, maxFrameSize: 1 << 20))
            let sent = (try? collector.feed(peers.received(0))) ?? []
            return sent.map { String(decoding: $0.payload, as: UTF8.self) }
        }
        #expect(await eventually { texts().contains { $0.contains("\"late\"") } }, "positive control: this request went out")
        waiting.cancel()
        #expect(await waiting.value == .cancelled)
        #expect(!texts().contains { $0.contains("\"early\"") }, "the call from the cancelled task sent nothing")
    }

    @Test("a call against a server that never answers ends at its timeout (on the client's clock)")
    func timesOut() async throws {
        let peers = try WatchedPeers(webSocket: true)
        defer { peers.stop() }
        let clock = ManualClock()
        var configuration = testConfiguration()
        configuration.requestTimeout = .seconds(5)
        let client = SensorClient(host: "127.0.0.1", port: peers.port, configuration: configuration, clock: clock)
        try await client.connect()
        let call = Task { () -> SensorClientError? in
            do throws(SensorClientError) {
                _ = try await client.sensorConnected("S1")
                return nil
            } catch {
                return error
            }
        }
        #expect(await peers.waitForBytes(0, count: 20), "the request went out")
        #expect(await clock.waitForDeadlines([.seconds(5)]), "its timeout is armed on the client's clock")
        clock.advance(by: .seconds(5))
        #expect(await call.value == .timeout)
    }
}
