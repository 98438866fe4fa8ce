import Foundation
import SensorAgent
@testable import SensorHub
import SensorStream
import SensorWire
import Testing
import TestSupport
import WebSocketIO

@Suite("Commands and the sensor list", .timeLimit(.minutes(1)))
struct CommandTests {
    @Test("the router: forward with a deadline, the answer to the app that asked, 404 without an agent, 504 after the deadline")
    func router() {
        var router = CommandRouter(timeout: .seconds(10))
        guard case .forward(7, .command(let commandID, "lamp-2", "switch", ["on": true]), .seconds(11)) =
                router.command(from: 1, requestID: "r1", deviceID: "lamp-2", service: "switch", data: ["on": true], agent: 7, now: .seconds(1)) else {
            Issue.record("not forwarded")
            return
        }
        #expect(router.response(from: 8, commandID: commandID, status: 200, data: 1) == nil, "another agent's answer")
        let answer = router.response(from: 7, commandID: commandID, status: 200, data: ["done": true])
        #expect(answer?.app == 1 && answer?.message == .commandResponse(requestID: "r1", status: 200, data: ["done": true]))
        #expect(router.response(from: 7, commandID: commandID, status: 200, data: 1) == nil, "answered once")
        #expect(router.command(from: 1, requestID: "r2", deviceID: "x", service: "s", data: 1, agent: nil, now: .zero)
                == .answer(.commandResponse(requestID: "r2", status: 404, data: ["error": "unknown or disconnected device x"])))
        _ = router.command(from: 2, requestID: "r3", deviceID: "lamp-2", service: "s", data: 1, agent: 7, now: .seconds(20))
        _ = router.command(from: 3, requestID: "r4", deviceID: "lamp-2", service: "s", data: 1, agent: 7, now: .seconds(25))
        #expect(router.expire(now: .seconds(29)).isEmpty, "positive control below: nothing is late yet")
        let late = router.expire(now: .seconds(30))
        #expect(late.map(\.app) == [2] && late.first?.message == .commandResponse(requestID: "r3", status: 504, data: ["error": "the agent did not answer within 10 s"]))
        router.appGone(3)
        #expect(router.waitingCount == 0)
    }

    /// A raw app connection speaking the protocol from outside the client library.
    static func app(_ hub: Hub) async throws -> WebSocketConnection {
        let connection = try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port)
        try await connection.send(text: SensorProtocol.encode(ClientMessage.connect.envelope))
        return connection
    }

    static func ask(_ connection: WebSocketConnection, _ message: ClientMessage) async throws -> ServerMessage? {
        try await connection.send(text: SensorProtocol.encode(message.envelope))
        while let received = await connection.receive() {
            if case .text(let text) = received, let message = ServerMessage.decode(text) {
                if case .commandResponse = message { return message }
                if case .sensorList = message { return message }
            }
        }
        return nil
    }

    @Test("app -> hub -> agent -> hub -> app: the agent's status and data pass through; 404 for a disconnected device; 504 for an agent that does not answer")
    func roundTrip() async throws {
        // Deadlines on a manual clock: an answer is never late because the machine is loaded.
        let clock = ManualClock()
        let hub = try Hub(commandTimeout: .milliseconds(1500), clock: clock)
        defer { Task { await hub.stop() } }
        var configuration = AgentClient.Configuration()
        configuration.reconnect = .fixed(.milliseconds(20))
        let store = InMemoryDeviceStore([Device(id: "lamp-2", type: "lamp", name: "Hall"), Device(id: "mute-1", type: "lamp", name: "Silent")])
        let agent = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: store, configuration: configuration)
        agent.onCommand { command in
            guard command.deviceID == "lamp-2" else { return }  // mute-1 never answers
            _ = try? await agent.respond(to: command, status: 202, data: ["switched": command.data["on"] ?? .null])
        }
        agent.start()
        #expect(await eventually { hub.isConnected("lamp-2") && hub.isConnected("mute-1") })
        let app = try await Self.app(hub)
        #expect(try await Self.ask(app, .command(requestID: "r1", sensorID: "lamp-2", service: "switch", data: ["on": true]))
                == .commandResponse(requestID: "r1", status: 202, data: ["switched": true]))
        let silent = Task { try await Self.ask(app, .command(requestID: "r2", sensorID: "mute-1", service: "switch", data: ["on": true])) }
        #expect(await clock.waitForSleepers(2), "both commands' deadlines are armed on the hub's clock")
        clock.advance(by: .milliseconds(1500))
        #expect(try await silent.value
                == .commandResponse(requestID: "r2", status: 504, data: ["error": "the agent did not answer within 1500 ms"]))
        #expect(try await agent.disconnect(device: "lamp-2"))
        #expect(try await Self.ask(app, .command(requestID: "r3", sensorID: "lamp-2", service: "switch", data: ["on": false]))
                == .commandResponse(requestID: "r3", status: 404, data: ["error": "unknown or disconnected device lamp-2"]))
        _ = await app.close()
        await agent.stop()
    }

    @Test("list_sensors: devices with type, name, tags and connected; a disconnected one stays, a deleted one leaves; in-process agents' sensors too")
    func sensorList() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let local = hub.attachAgent(name: "sim", sensors: ["A01-S1"])
        defer { local.detach() }
        var configuration = AgentClient.Configuration()
        configuration.reconnect = .fixed(.milliseconds(20))
        let agent = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: InMemoryDeviceStore([
            Device(id: "thermo-1", type: "thermometer", name: "Kitchen <b>", tags: ["floor": "1"]), Device(id: "lamp-2", type: "lamp", name: "Hall"),
        ]), configuration: configuration)
        agent.start()
        #expect(await eventually { hub.isConnected("thermo-1") && hub.isConnected("lamp-2") })
        #expect(try await agent.disconnect(device: "thermo-1"))
        #expect(try await agent.add(Device(id: "gone-3", type: "x", name: "Gone")))
        #expect(try await agent.delete(device: "gone-3"))
        let app = try await Self.app(hub)
        guard case .sensorList(let sensors)? = try await Self.ask(app, .listSensors) else {
            Issue.record("no list")
            return
        }
        #expect(sensors == [
            ["sensor_id": "lamp-2", "type": "lamp", "name": "Hall", "tags": .object([:]), "connected": true, "agent": "home-1"],
            ["sensor_id": "thermo-1", "type": "thermometer", "name": "Kitchen <b>", "tags": ["floor": "1"], "connected": false, "agent": "home-1"],
            ["sensor_id": "A01-S1", "type": "sensor", "name": "A01-S1", "tags": .object([:]), "connected": true, "agent": .null],
        ])
        _ = await app.close()
        await agent.stop()
    }

    @Test("SensorClient: sendCommand gets the device's answer, 404 and 504 from the hub; sensors() lists them")
    func sensorClient() async throws {
        // Deadlines on a manual clock: an answer is never late because the machine is loaded.
        let clock = ManualClock()
        let hub = try Hub(commandTimeout: .seconds(2), clock: clock)
        defer { Task { await hub.stop() } }
        var configuration = AgentClient.Configuration()
        configuration.reconnect = .fixed(.milliseconds(20))
        let agent = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1",
                                devices: InMemoryDeviceStore([Device(id: "lamp-2", type: "lamp", name: "Hall", tags: ["floor": "0"]),
                                                              Device(id: "mute-1", type: "lamp", name: "Silent")]),
                                configuration: configuration)
        agent.onCommand { command in
            guard command.deviceID == "lamp-2" else { return }
            _ = try? await agent.respond(to: command, status: 200, data: ["on": command.data["on"] ?? .null])
        }
        agent.start()
        #expect(await eventually { hub.isConnected("lamp-2") && hub.isConnected("mute-1") })
        let app = SensorClient(host: "127.0.0.1", port: hub.port)
        try await app.connect()
        let response = try await app.sendCommand(to: "lamp-2", service: "switch", data: ["on": true])
        #expect(response == CommandResponse(status: 200, data: ["on": true]) && response.isSuccess, "\(response)")
        let silent = Task { try await app.sendCommand(to: "mute-1", service: "switch", data: 1) }
        #expect(await clock.waitForSleepers(2), "both commands' deadlines are armed on the hub's clock")
        clock.advance(by: .seconds(2))
        #expect(try await silent.value.status == 504)
        #expect(try await app.sendCommand(to: "nobody", service: "switch", data: 1).status == 404)
        await #expect(throws: SensorClientError.invalidSensorID("")) { try await app.sendCommand(to: "", service: "s", data: 1) }
        let sensors = try await app.sensors()
        #expect(sensors == [SensorInfo(sensorID: "lamp-2", type: "lamp", name: "Hall", tags: ["floor": "0"], connected: true),
                            SensorInfo(sensorID: "mute-1", type: "lamp", name: "Silent", tags: [:], connected: true)])
        await app.disconnect()
        await agent.stop()
    }
}
