import SensorWire
import Testing
import TestSupport
@testable import SensorAgent

@Suite("AgentClient: release, cancellation and timeouts", .timeLimit(.minutes(1)))
struct AgentClientLifetimeTests {
    private static let device = Device(id: "dev-1", type: "thermometer", name: "Kitchen")

    private static func agent(_ peers: WatchedPeers, id: String, clock: ManualClock, requestTimeout: Duration = .seconds(30)) -> AgentClient {
        var configuration = AgentClient.Configuration()
        configuration.requestTimeout = requestTimeout
        configuration.reconnect = Backoff(initialDelay: .seconds(10), maxDelay: .seconds(10), multiplier: 1, jitter: 0, maxAttempts: nil)
        let agent = AgentClient(host: "127.0.0.1", port: peers.port, agentID: id, devices: InMemoryDeviceStore([device]),
                                configuration: configuration, clock: clock)
        agent.start()
        return agent
    }

    @Test("released while connected: its connection ends; an agent kept in the same test stays connected")
    func releasedWhileConnected() async throws {
        let peers = try WatchedPeers(webSocket: true)
        defer { peers.stop() }
        let clock = ManualClock()
        let kept = Self.agent(peers, id: "kept", clock: clock)
        #expect(await peers.waitForBytes(0, count: 1), "the kept agent sent its connect message")
        var released: AgentClient? = Self.agent(peers, id: "released", clock: clock)
        #expect(await peers.waitForBytes(1, count: 1), "the released agent sent its connect message")
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await peers.waitForEnd(1), "the released agent's connection ended")
        #expect(peers.endedWithFIN(1), "with a FIN (after a close frame, for WebSocket), not a reset")
        #expect(await eventually { engine.object == nil }, "its engine and tasks are gone")
        #expect(!peers.hasEnded(0), "the kept agent is still connected")
        #expect(kept.connectionState != .stopped)
    }

    @Test("released while waiting to reconnect: the sleep ends and nothing connects again; a kept agent does reconnect")
    func releasedWhileReconnecting() async throws {
        let peers = try WatchedPeers(webSocket: true)
        defer { peers.stop() }
        let clock = ManualClock()
        let kept = Self.agent(peers, id: "kept", clock: clock)
        #expect(await peers.waitForBytes(0, count: 1))
        var released: AgentClient? = Self.agent(peers, id: "released", clock: clock)
        #expect(await peers.waitForBytes(1, count: 1))
        peers.close(0)
        peers.close(1)
        #expect(await clock.waitForSleepers(2), "both wait 10 s on the test clock")
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await eventually { clock.sleeperCount == 1 }, "the released agent's sleep was cancelled")
        #expect(await eventually { engine.object == nil }, "everything released")
        clock.advance(by: .seconds(10))
        #expect(await peers.waitForBytes(2, count: 1), "the kept agent reconnected and said connect again")
        #expect(peers.acceptedCount == 3, "only the kept agent connected again")
        _ = kept
    }

    @Test("a call from a task already cancelled ends with .cancelled at once; one cancelled while waiting too")
    func cancelledCalls() async throws {
        let peers = try WatchedPeers(webSocket: true)
        defer { peers.stop() }
        let agent = Self.agent(peers, id: "a", clock: ManualClock())
        #expect(await peers.waitForBytes(0, count: 1))
        let early = Task { () -> AgentClientError? in
            withUnsafeCurrentTask { $0?.cancel() }
            do throws(AgentClientError) {
                _ = try await agent.event(device: "dev-1", service: "reading", data: ["t": 1])
                return nil
            } catch {
                return error
            }
        }
        #expect(await early.value == .cancelled)
        let waiting = Task { () -> AgentClientError? in
            do throws(AgentClientError) {
                _ = try await agent.event(device: "dev-1", service: "reading", data: ["t": 2])
                return nil
            } catch {
                return error
            }
        }
        // The peer never acknowledges the connect: the event waits in the agent's queue. The
        // cancel may come before or after the call registered: both must end it.
        waiting.cancel()
        #expect(await waiting.value == .cancelled)
    }

    @Test("a call against a hub that never answers ends at its timeout (on the agent's clock)")
    func timesOut() async throws {
        let peers = try WatchedPeers(webSocket: true)
        defer { peers.stop() }
        let clock = ManualClock()
        let agent = Self.agent(peers, id: "a", clock: clock, requestTimeout: .seconds(5))
        #expect(await peers.waitForBytes(0, count: 1))
        let call = Task { () -> AgentClientError? in
            do throws(AgentClientError) {
                _ = try await agent.event(device: "dev-1", service: "reading", data: ["t": 1])
                return nil
            } catch {
                return error
            }
        }
        #expect(await clock.waitForDeadlines([.seconds(5)]), "its timeout is armed on the agent's clock")
        clock.advance(by: .seconds(5))
        #expect(await call.value == .timeout)
    }
}
