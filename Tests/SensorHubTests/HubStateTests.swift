import Testing
@testable import SensorHub
@testable import SensorStream
import SensorWire

@Suite("Hub state (sans-I/O)")
struct HubStateTests {
    @Test("status answers from the agents' sensors; subscriptions fan readings out in peer order")
    func statusAndFanOut() {
        var hub = HubState()
        let agent: HubState.PeerID = 100
        #expect(hub.agentConnected(agent, sensors: ["S1", "S2"]).isEmpty, "no subscriber to tell yet")
        #expect(hub.handle(.connectionStatus(sensorID: "S1"), from: 1)
                == [.init(message: .connectionStatus(sensorID: "S1", connected: true), recipients: [1])])
        #expect(hub.handle(.connectionStatus(sensorID: "S9"), from: 1)
                == [.init(message: .connectionStatus(sensorID: "S9", connected: false), recipients: [1])])
        _ = hub.handle(.subscribe(sensorID: "S1"), from: 2)
        _ = hub.handle(.subscribe(sensorID: "S1"), from: 1)
        _ = hub.handle(.subscribe(sensorID: "S2"), from: 3)
        #expect(hub.reading("S1", 1, from: agent) == .init(message: .sensorData(sensorID: "S1", readings: 1), recipients: [1, 2]))
        #expect(hub.reading("S1", 1, from: 999) == nil, "only the serving agent publishes")
        _ = hub.handle(.unsubscribe(sensorID: "S1"), from: 2)
        #expect(hub.reading("S1", 2, from: agent)?.recipients == [1])
        hub.appGone(1)
        #expect(hub.reading("S1", 3, from: agent) == nil)
        #expect(hub.reading("S2", 3, from: agent)?.recipients == [3])
    }

    @Test("an agent leaving disconnects its sensors and tells their subscribers; returning tells them again")
    func agentLifecycle() {
        var hub = HubState()
        _ = hub.agentConnected(100, sensors: ["S1", "S2"])
        _ = hub.handle(.subscribe(sensorID: "S1"), from: 1)
        _ = hub.handle(.subscribe(sensorID: "S2"), from: 2)
        #expect(hub.agentGone(100) == [.init(message: .connectionStatus(sensorID: "S1", connected: false), recipients: [1]),
                                       .init(message: .connectionStatus(sensorID: "S2", connected: false), recipients: [2])])
        #expect(!hub.isConnected("S1"))
        #expect(hub.agentConnected(101, sensors: ["S1"]) == [.init(message: .connectionStatus(sensorID: "S1", connected: true), recipients: [1])])
        #expect(hub.sensorRemoved("S1", by: 100).isEmpty, "only the owner removes")
        #expect(hub.sensorRemoved("S1", by: 101) == [.init(message: .connectionStatus(sensorID: "S1", connected: false), recipients: [1])])
        #expect(hub.sensorAdded("S3", by: 101).isEmpty)
        #expect(hub.connectedSensors == ["S3"])
    }

    @Test("client_disconnect forgets the peer's subscriptions")
    func clientDisconnect() {
        var hub = HubState()
        _ = hub.agentConnected(100, sensors: ["S1"])
        _ = hub.handle(.subscribe(sensorID: "S1"), from: 1)
        _ = hub.handle(.disconnect, from: 1)
        #expect(hub.subscribers(of: "S1").isEmpty)
    }

    @Test("agent messages parse, and round-trip through their envelopes")
    func agentProtocol() {
        let messages: [AgentMessage] = [.connect(agentID: "A1", sensors: ["S1", "S2"]), .data(sensorID: "S1", readings: ["t": 1.5]),
                                        .sensorAdded(sensorID: "S3"), .sensorRemoved(sensorID: "S3"), .disconnect]
        for message in messages {
            let text = SensorProtocol.encode(message.envelope)
            #expect(SensorProtocol.decode(text).flatMap(AgentMessage.init) == message, "\(text)")
        }
        #expect(AgentMessage(Envelope(event: "agent_connect", data: ["agent_id": "A", "sensors": [1]])) == nil)
        #expect(AgentMessage(Envelope(event: "sensor_data", data: ["sensor_id": "S"])) == nil)
    }
}
