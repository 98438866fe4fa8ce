import FastSlow
import Lantern
import MetricStore
import SensorAgent
import SensorStream
import Testing

@Suite("ClientPhase: every client's state in one shape")
struct ClientPhaseTests {
    @Test("each client's states map to the shared phases, case by case")
    func mappings() {
        let delay = Duration.seconds(2)
        let reason = DisconnectReason(closeCode: 1006, message: "connection lost")
        #expect(ConnectionState.idle.phase == .idle)
        #expect(ConnectionState.connecting(attempt: 3).phase == .connecting(attempt: 3))
        #expect(ConnectionState.connected.phase == .connected)
        #expect(ConnectionState.reconnecting(attempt: 2, delay: delay, reason: reason).phase
                == .reconnecting(attempt: 2, delay: delay, reason: reason.description))
        #expect(ConnectionState.disconnected(reason: reason).phase == .closed(reason: reason.description))

        #expect(MetricConnectionState.idle.phase == .idle)
        #expect(MetricConnectionState.reconnecting(attempt: 1, delay: delay, reason: "refused").phase
                == .reconnecting(attempt: 1, delay: delay, reason: "refused"))
        #expect(MetricConnectionState.closed(reason: "closed by the app").phase == .closed(reason: "closed by the app"))

        #expect(FastSlowConnectionState.connecting(attempt: 0).phase == .connecting(attempt: 0))
        #expect(FastSlowConnectionState.connected.phase == .connected)
        #expect(FastSlowConnectionState.closed(reason: "x").phase.isClosed)

        #expect(LanternConnectionState.waiting(delay: delay, reason: "down").phase == .reconnecting(attempt: nil, delay: delay, reason: "down"))
        #expect(LanternConnectionState.closed.phase == .closed(reason: "closed"))

        #expect(AgentConnectionState.idle.phase == .idle)
        #expect(AgentConnectionState.waiting(delay: delay, reason: "down").phase == .reconnecting(attempt: nil, delay: delay, reason: "down"))
        #expect(AgentConnectionState.rejected(reason: "invalid agent token").phase == .closed(reason: "rejected: invalid agent token"))
        #expect(AgentConnectionState.stopped.phase.isClosed && !AgentConnectionState.connected.phase.isClosed)
    }
}
