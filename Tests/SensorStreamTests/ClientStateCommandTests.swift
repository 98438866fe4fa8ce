import Testing
@testable import SensorStream
import SensorWire
import WebSocketIO

/// The client's command and list requests in its sans-I/O state.
@Suite("ClientState: commands and the sensor list")
struct ClientStateCommandTests {
    final class FakeConnection: Sendable {}
    typealias State = ClientState<FakeConnection, Int>

    @Test("a command made offline goes out on the next connection, once; its response resolves it; a list request is replayed until answered")
    func commandsAndLists() {
        var state = State()
        state.lifecycle = .running
        _ = state.requestCommand(requestID: "c1", sensorID: "lamp", service: "switch", data: ["on": true], 1)
        _ = state.requestSensors(2)
        #expect(state.takeOutbox().isEmpty, "no connection: nothing sent yet")
        let first = FakeConnection()
        state.replay(on: first, isReconnect: false)
        let sent = state.takeOutbox()
        #expect(sent.contains(.command(requestID: "c1", sensorID: "lamp", service: "switch", data: ["on": true])))
        #expect(sent.contains(.listSensors))
        state.connectionEnded(first)
        state.replay(on: FakeConnection(), isReconnect: true)
        let again = state.takeOutbox()
        #expect(!again.contains { if case .command = $0 { true } else { false } }, "a command is never sent twice")
        #expect(again.contains(.listSensors), "the list is asked again")
        let deliveries = state.receive([(.text(""), .commandResponse(requestID: "c1", status: 200, data: 5)),
                                        (.text(""), .sensorList([["sensor_id": "lamp", "type": "lamp", "name": "L", "tags": .object([:]), "connected": false], 7])),
                                        (.text(""), .commandResponse(requestID: "c1", status: 200, data: 5))])
        #expect(deliveries.answers.count == 2)
        #expect(deliveries.answers.first?.0 == 1 && deliveries.answers.first?.1 == .command(CommandResponse(status: 200, data: 5)))
        #expect(deliveries.answers.last?.0 == 2 && deliveries.answers.last?.1 == .sensors([SensorInfo(sensorID: "lamp", type: "lamp", name: "L", tags: [:], connected: false)]),
                "a malformed entry is left out")
        #expect(state.statistics.messagesSkipped == 1, "the second response had nobody waiting")
    }
}
