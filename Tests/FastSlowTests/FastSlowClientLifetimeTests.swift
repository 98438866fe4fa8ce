import Testing
import TestSupport
@testable import FastSlow

@Suite("FastSlowClient: release, cancellation and timeouts", .timeLimit(.minutes(1)))
struct FastSlowClientLifetimeTests {
    /// A client on `clock` connected to the watched peers (connection `index`).
    private static func connected(_ peers: WatchedPeers, index: Int, clock: ManualClock,
                                  requestTimeout: Duration = .seconds(30)) async throws -> FastSlowClient {
        var configuration = FastSlowClient.Configuration()
        configuration.reconnectDelay = .seconds(10)
        configuration.requestTimeout = requestTimeout
        let client = FastSlowClient(host: "127.0.0.1", port: peers.port, configuration: configuration, clock: clock)
        try await client.connect()
        #expect(await peers.waitForAccepted(index + 1))
        return client
    }

    @Test("released while connected: its connection ends; a client kept in the same test stays connected")
    func releasedWhileConnected() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        let kept = try await Self.connected(peers, index: 0, clock: clock)
        var released: FastSlowClient? = try await Self.connected(peers, index: 1, clock: clock)
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await peers.waitForEnd(1), "the released client's connection ended")
        #expect(peers.endedWithFIN(1), "with a FIN (after a close frame, for WebSocket), not a reset")
        #expect(await eventually { engine.object == nil }, "its engine and tasks are gone")
        #expect(!peers.hasEnded(0), "the kept client is still connected")
        let call = Task { try await kept.fast() }
        #expect(await peers.waitForBytes(0, count: 1), "positive control: the kept client still sends")
        call.cancel()
        _ = await call.result
    }

    @Test("released while reconnecting: the delay's sleep ends and nothing connects again; a kept client does reconnect")
    func releasedWhileReconnecting() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        let kept = try await Self.connected(peers, index: 0, clock: clock)
        var released: FastSlowClient? = try await Self.connected(peers, index: 1, clock: clock)
        let keptStates = Collected(kept.connectionStates)
        peers.close(0)
        peers.close(1)
        #expect(await clock.waitForSleepers(2), "both wait 10 s on the test clock")
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await eventually { clock.sleeperCount == 1 }, "the released client's sleep was cancelled")
        #expect(await eventually { engine.object == nil }, "everything released")
        clock.advance(by: .seconds(10))
        #expect(await peers.waitForAccepted(3), "the kept client reconnected")
        #expect(await keptStates.waitFor(count: 2) { $0 == .connected }, "and says so in connectionStates")
        #expect(peers.acceptedCount == 3, "only the kept client connected again")
    }

    @Test("a call from a task already cancelled ends with .cancelled at once, sending nothing; one cancelled on the wire too")
    func cancelledCalls() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let client = try await Self.connected(peers, index: 0, clock: ManualClock())
        let early = Task { () -> FastSlowClientError? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(FastSlowClientError) {
                _ = try await client.fast()
                return nil
            } catch {
                return error
            }
        }
        #expect(await early.value == .cancelled)
        let waiting = Task { () -> FastSlowClientError? in
            do throws(FastSlowClientError) {
                _ = try await client.fast()
                return nil
            } catch {
                return error
            }
        }
        var oneRequest: [UInt8] = []
        FastSlowRequest.fast.message.appendDelimited(to: &oneRequest)
        let expected = oneRequest
        #expect(await eventually { peers.received(0).count >= expected.count }, "positive control: this call was sent")
        #expect(peers.received(0) == expected, "only this call was sent: \(peers.received(0))")
        waiting.cancel()
        #expect(await waiting.value == .cancelled)
    }

    @Test("a call against a server that never answers ends at its timeout (on the client's clock)")
    func timesOut() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        let client = try await Self.connected(peers, index: 0, clock: clock, requestTimeout: .seconds(5))
        let call = Task { () -> FastSlowClientError? in
            do throws(FastSlowClientError) {
                _ = try await client.fast()
                return nil
            } catch {
                return error
            }
        }
        #expect(await peers.waitForBytes(0, count: 1), "the request went out")
        #expect(await clock.waitForDeadlines([.seconds(5)]), "its timeout is armed on the client's clock")
        clock.advance(by: .seconds(5))
        #expect(await call.value == .timeout)
    }
}
