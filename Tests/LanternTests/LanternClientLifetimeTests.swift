import Testing
import TestSupport
@testable import Lantern

@Suite("LanternClient: release", .timeLimit(.minutes(1)))
struct LanternClientLifetimeTests {
    private static func lantern(_ peers: WatchedPeers, clock: ManualClock) -> LanternClient {
        var configuration = LanternClient.Configuration()
        configuration.reconnectDelay = .seconds(10)
        return LanternClient(host: "127.0.0.1", port: peers.port, configuration: configuration, clock: clock)
    }

    @Test("released while connected: its connection ends with a FIN; a lantern kept in the same test stays connected and obeys")
    func releasedWhileConnected() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        let kept = Self.lantern(peers, clock: clock)
        #expect(await peers.waitForAccepted(1))
        var released: LanternClient? = Self.lantern(peers, clock: clock)
        #expect(await peers.waitForAccepted(2))
        let releasedStates = Collected(try #require(released).connectionStates)
        #expect(await releasedStates.waitFor { $0.contains(.connected) })
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await peers.waitForEnd(1), "the released lantern's connection ended")
        #expect(peers.endedWithFIN(1), "with a FIN")
        #expect(await releasedStates.waitFor { $0.last == .closed }, "its streams end with closed")
        #expect(await eventually { engine.object == nil }, "its engine and tasks are gone")
        #expect(!peers.hasEnded(0), "the kept lantern is still connected")
        peers.write([0x12, 0x00, 0x00], to: 0)  // ON
        #expect(await eventually { kept.state.isOn }, "positive control: the kept lantern still obeys")
    }

    @Test("released while waiting to reconnect: the sleep ends and nothing connects again; a kept lantern does reconnect")
    func releasedWhileReconnecting() async throws {
        let peers = try WatchedPeers()
        defer { peers.stop() }
        let clock = ManualClock()
        let kept = Self.lantern(peers, clock: clock)
        #expect(await peers.waitForAccepted(1))
        var released: LanternClient? = Self.lantern(peers, clock: clock)
        #expect(await peers.waitForAccepted(2))
        peers.close(0)
        peers.close(1)
        #expect(await clock.waitForSleepers(2), "both wait 10 s on the test clock")
        let engine = WeakReference(object: released?.engine)
        released = nil
        #expect(await eventually { clock.sleeperCount == 1 }, "the released lantern's sleep was cancelled")
        #expect(await eventually { engine.object == nil }, "everything released")
        clock.advance(by: .seconds(10))
        #expect(await peers.waitForAccepted(3), "the kept lantern reconnected")
        #expect(await eventually { kept.connectionState == .connected })
        #expect(peers.acceptedCount == 3, "only the kept lantern connected again")
    }
}
