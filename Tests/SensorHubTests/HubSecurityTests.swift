import Foundation
import Locking
import SensorAgent
import SensorStream
import SensorWire
import TCPTransport
import Testing
import TestSupport
import WebSocketCore
import WebSocketIO
@testable import SensorHub

/// A WebSocket to the hub with these upgrade fields and target.
func openSocket(_ hub: Hub, headers: [(String, String)] = [], target: String = "/") async throws(WebSocketError) -> WebSocketConnection {
    try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port, path: target,
                                          configuration: WebSocketConfiguration(extraHeaders: headers))
}

/// The status the hub answers an upgrade with: 101 when it upgrades (then closed again).
func upgradeStatus(_ hub: Hub, headers: [(String, String)] = [], target: String = "/") async -> Int {
    do {
        let socket = try await openSocket(hub, headers: headers, target: target)
        socket.abort()
        return 101
    } catch .handshakeFailed(.unexpectedStatus(let status, _)) {
        return status
    } catch {
        return -1
    }
}

func send(_ socket: WebSocketConnection, _ envelope: Envelope) async throws {
    try await socket.send(text: SensorProtocol.encode(envelope))
}

/// Waits for the socket to be closed by the hub and returns the close code.
func closeCode(_ socket: WebSocketConnection) async -> UInt16 {
    while await socket.receive() != nil {}
    return (await socket.closed()).code.rawValue
}

/// The next device-protocol ack on `socket` (other messages skipped).
func nextAck(_ socket: WebSocketConnection) async -> (status: Int, error: String?)? {
    while let message = await socket.receive() {
        guard case .text(let text) = message, let envelope = SensorProtocol.decode(text),
              case .ack(_, let status, let error)? = HubToAgent(envelope) else { continue }
        return (status, error)
    }
    return nil
}

/// The hub's `hub_statistics` answer, asked on a connection of its own.
func hubStatistics(_ hub: Hub, headers: [(String, String)] = []) async throws -> JSONValue? {
    let socket = try await openSocket(hub, headers: headers)
    defer { socket.abort() }
    try await send(socket, ClientMessage.statistics.envelope)
    while let message = await socket.receive() {
        guard case .text(let text) = message, case .statistics(let counters)? = ServerMessage.decode(text) else { continue }
        return counters
    }
    return nil
}

@Suite("Hub security on loopback: the attack table", .timeLimit(.minutes(1)))
struct HubSecurityTests {
    let bearer = { (token: String) in [("Authorization", "Bearer \(token)")] }

    @Test("a connection without the agent token injects sensor_added and sensor_data: closed 1008, nothing reaches the app, the owner's readings keep arriving")
    func legacyInjection() async throws {
        let hub = try Hub(agentToken: "s3cret")
        defer { Task { await hub.stop() } }
        let agent = try await openSocket(hub, headers: bearer("s3cret"))
        try await send(agent, AgentMessage.connect(agentID: "A01", sensors: ["A01-S1"]).envelope)
        #expect(await eventually { hub.isConnected("A01-S1") })
        let app = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled))
        try await app.connect()
        let received = Task { await collectReadings(app.readings("A01-S1"), count: 5, timeout: .seconds(20)) }
        #expect(await eventually { hub.subscriberCount("A01-S1") == 1 })
        let attacker = try await openSocket(hub)
        try await send(attacker, AgentMessage.sensorAdded(sensorID: "A01-S1").envelope)
        // The hub may close it before the last of these is sent.
        for _ in 0..<5 { try? await send(attacker, AgentMessage.data(sensorID: "A01-S1", readings: 666).envelope) }
        #expect(await closeCode(attacker) == 1008)
        // The rightful owner publishes after the attack: exactly its readings arrive.
        for value in 1...5 { try await publish(agent, "A01-S1", .number(Double(value))) }
        let values = await received.value.map { $0.readings.doubleValue ?? -1 }
        #expect(values == [1, 2, 3, 4, 5], "only the owner's readings, none of the 666s")
        #expect(hub.isConnected("A01-S1"))
        let statistics = try await hubStatistics(hub)
        #expect(statistics?["protocol_violations"]?.intValue == 1)
        agent.abort()
        await app.disconnect()
    }

    @Test("a second agent claiming a connected agent's sensor: legacy closed 1008, device protocol ack 409; the owner keeps it; once it leaves, it can be claimed")
    func claims() async throws {
        let hub = try Hub(agentToken: "s3cret")
        defer { Task { await hub.stop() } }
        let owner = try await openSocket(hub, headers: bearer("s3cret"))
        try await send(owner, AgentMessage.connect(agentID: "owner", sensors: ["S"]).envelope)
        #expect(await eventually { hub.isConnected("S") })
        let app = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled))
        try await app.connect()
        let received = Task { await collectReadings(app.readings("S"), count: 2, timeout: .seconds(20)) }
        #expect(await eventually { hub.subscriberCount("S") == 1 })
        // Legacy: the whole claim is refused.
        let legacy = try await openSocket(hub, headers: bearer("s3cret"))
        try await send(legacy, AgentMessage.connect(agentID: "thief", sensors: ["T", "S"]).envelope)
        #expect(await closeCode(legacy) == 1008)
        #expect(!hub.isConnected("T"), "nothing of the refused claim applied")
        // Device protocol: 409 for the taken id, 200 for a free one (positive control).
        let device = try await openSocket(hub, headers: bearer("s3cret"))
        try await send(device, AgentToHub.connect(agentID: "thief-2", token: nil, devices: []).envelope)
        let taken = Device(id: "S", type: "thermometer", name: "not yours")
        try await send(device, AgentToHub.register(requestID: "r1", device: taken, hash: taken.hash).envelope)
        #expect(await nextAck(device)?.status == 409)
        let free = Device(id: "F", type: "thermometer", name: "mine")
        try await send(device, AgentToHub.register(requestID: "r2", device: free, hash: free.hash).envelope)
        #expect(await nextAck(device)?.status == 200)
        try await publish(owner, "S", 1)
        try await publish(owner, "S", 2)
        #expect(await received.value.map { $0.readings.doubleValue ?? -1 } == [1, 2], "the owner still publishes S")
        // The owner leaves: S is disconnected and free again.
        owner.abort()
        #expect(await eventually { !hub.isConnected("S") })
        try await send(device, AgentToHub.register(requestID: "r3", device: taken, hash: taken.hash).envelope)
        #expect(await nextAck(device)?.status == 200)
        #expect(await eventually { hub.isConnected("S") })
        device.abort()
        await app.disconnect()
    }

    @Test("an app sending agent messages and an agent sending app messages: closed 1008, nothing applied")
    func crossRole() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let app = try await openSocket(hub)
        try await send(app, ClientMessage.subscribe(sensorID: "X").envelope)
        #expect(await eventually { hub.subscriberCount("X") == 1 }, "positive control: an app message applied")
        try await send(app, AgentMessage.sensorAdded(sensorID: "X").envelope)
        #expect(await closeCode(app) == 1008)
        #expect(!hub.isConnected("X"))
        let agent = try await openSocket(hub)
        try await send(agent, AgentMessage.connect(agentID: "a", sensors: ["Y"]).envelope)
        #expect(await eventually { hub.isConnected("Y") })
        try await send(agent, ClientMessage.subscribe(sensorID: "Y").envelope)
        #expect(await closeCode(agent) == 1008)
        #expect(hub.subscriberCount("Y") == 0)
    }

    @Test("app tokens: none or a wrong one 401 before the upgrade; a read token's command 403; a command token's reaches routing")
    func appTokens() async throws {
        let hub = try Hub(access: HubAccessPolicy(appTokens: ["reader": .read, "operator": .command]))
        defer { Task { await hub.stop() } }
        #expect(await upgradeStatus(hub) == 401)
        #expect(await upgradeStatus(hub, headers: bearer("guess")) == 401)
        #expect(await upgradeStatus(hub, target: "/?token=guess") == 401)
        #expect(await upgradeStatus(hub, target: "/?token=reader") == 101, "positive control: the query parameter")
        let anonymous = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled, reconnect: .disabled))
        await #expect {
            try await anonymous.connect()
        } throws: { error in
            "\(error)".contains("401")
        }
        let reader = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled, token: "reader"))
        try await reader.connect()
        #expect(try await reader.sensors().isEmpty, "reading works")
        let forbidden = try await reader.sendCommand(to: "lamp", service: "on", data: [:])
        #expect(forbidden.status == 403)
        #expect(try await reader.sensorConnected("lamp") == false, "the connection stays after a 403")
        let operatorClient = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled, token: "operator"))
        try await operatorClient.connect()
        let routed = try await operatorClient.sendCommand(to: "lamp", service: "on", data: [:])
        #expect(routed.status == 404, "routed: no such device")
        let statistics = try await hubStatistics(hub, headers: bearer("reader"))
        #expect(statistics?["commands_forbidden"]?.intValue == 1)
        #expect(statistics?["upgrades_refused"]?.intValue == 4, "three raw upgrades and the anonymous client")
        await reader.disconnect()
        await operatorClient.disconnect()
    }

    @Test("GET /access: whether a token is needed, and whether the page's token is good; the page may not be framed")
    func accessEndpoint() async throws {
        let hub = try Hub(agentToken: "agent-token", access: HubAccessPolicy(appTokens: ["reader": .read]))
        defer { Task { await hub.stop() } }
        let port = hub.port
        // Blocking reads on a thread of their own: on the cooperative pool they would hold back
        // the hub's own tasks (two threads here) until their timeout.
        func get(_ path: String, _ headers: String = "") async throws -> String {
            try await onThread {
                let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(30)))
                defer { peer.close() }
                try peer.write(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)Connection: close\r\n\r\n".utf8))
                var bytes: [UInt8] = []
                while true {
                    let chunk = try peer.read(count: 4096, timeout: .seconds(30))
                    if chunk.isEmpty { break }
                    bytes += chunk
                }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
        #expect(try await get("/access").hasSuffix(#"{"token_required":true}"#))
        #expect(try await get("/access", "Authorization: Bearer reader\r\n").hasSuffix(#"{"token_required":true,"token_valid":true}"#))
        #expect(try await get("/access", "Authorization: Bearer agent-token\r\n").hasSuffix(#"{"token_required":true,"token_valid":false}"#))
        let page = try await get("/")
        #expect(page.contains("X-Frame-Options: DENY") && page.contains("frame-ancestors 'none'"))
    }

    @Test("an upgrade from a foreign Origin is refused 403; the hub's own page and clients without Origin are not")
    func origins() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        #expect(await upgradeStatus(hub, headers: [("Origin", "http://evil.example")]) == 403)
        #expect(await upgradeStatus(hub, headers: [("Origin", "http://127.0.0.1:\(hub.port)")]) == 101)
        #expect(await upgradeStatus(hub) == 101)
        let listed = try Hub(access: HubAccessPolicy(allowedOrigins: ["https://console.example"]))
        defer { Task { await listed.stop() } }
        #expect(await upgradeStatus(listed, headers: [("Origin", "https://console.example")]) == 101)
        #expect(await upgradeStatus(listed, headers: [("Origin", "https://console.example.evil")]) == 403)
        #expect(await upgradeStatus(listed, headers: [("Origin", "https://Console.Example:443")]) == 101, "one origin, spelled another way")
        #expect(await upgradeStatus(listed, headers: [("Origin", "null")]) == 403)
    }

    @Test("tokens never reach the log: refused and accepted upgrades, wrong agent tokens")
    func tokensNotLogged() async throws {
        let hub = try Hub(agentToken: "agent-SECRET-1", access: HubAccessPolicy(appTokens: ["app-SECRET-2": .admin]))
        let lines = LockedValue<[String]>([])
        let logger = Task { for await event in hub.events { lines.withLock { $0.append(event.description) } } }
        _ = await upgradeStatus(hub, headers: bearer("wrong-SECRET-3"))
        _ = await upgradeStatus(hub, target: "/?token=wrong-SECRET-4")
        let app = try await openSocket(hub, target: "/?token=app-SECRET-2")
        try await send(app, ClientMessage.subscribe(sensorID: "S").envelope)
        #expect(await eventually { hub.subscriberCount("S") == 1 })
        app.abort()
        await hub.stop()
        // A device agent's wrong token in its `agent_connect` (a hub without app tokens, where
        // an upgrade needs none).
        let agentHub = try Hub(agentToken: "agent-SECRET-1")
        let agentLogger = Task { for await event in agentHub.events { lines.withLock { $0.append(event.description) } } }
        let device = try await openSocket(agentHub)
        try await send(device, AgentToHub.connect(agentID: "x", token: "wrong-SECRET-5", devices: []).envelope)
        #expect(await closeCode(device) == 1008)
        await agentHub.stop()
        _ = await logger.value
        _ = await agentLogger.value
        let log = lines.withLock { $0 }
        #expect(log.contains { $0.contains("upgrade refused: 401") }, "positive control: the refusals are logged")
        #expect(log.contains { $0.contains("refused (close 1008): invalid agent token") })
        #expect(!log.contains { $0.contains("SECRET") }, "\(log.filter { $0.contains("SECRET") })")
    }
}

@Suite("Hub limits per connection on loopback", .timeLimit(.minutes(1)))
struct HubLimitsTests {
    @Test("a subscribe storm past the limit: the subscriptions under it apply, the next closes 1008, counted")
    func subscriptions() async throws {
        let hub = try Hub(limits: HubLimits(subscriptionsPerConnection: 100))
        defer { Task { await hub.stop() } }
        let storm = try await openSocket(hub)
        for index in 0..<100 { try await send(storm, ClientMessage.subscribe(sensorID: "S\(index)").envelope) }
        // Subscribing again to one it has is not a new subscription.
        try await send(storm, ClientMessage.subscribe(sensorID: "S7").envelope)
        #expect(await eventually { hub.subscriberCount("S99") == 1 }, "positive control: 100 subscriptions applied")
        try await send(storm, ClientMessage.subscribe(sensorID: "S100").envelope)
        #expect(await closeCode(storm) == 1008)
        #expect(hub.subscriberCount("S100") == 0)
        #expect(await eventually { hub.subscriberCount("S0") == 0 }, "its subscriptions went with it")
        #expect(try await hubStatistics(hub)?["limits_exceeded"]?.intValue == 1)
    }

    @Test("commands past the rate get 429 and the connection stays; lists past the rate close 1008")
    func rates() async throws {
        // Rates on a manual clock that never moves: the third command is refused however long
        // the loaded machine takes between them.
        let hub = try Hub(limits: HubLimits(commandsPerSecond: 1, listsPerSecond: 1), clock: ManualClock())
        defer { Task { await hub.stop() } }
        // Three commands: a burst of two, then the rate (one a second) refuses the third.
        let app = try await openSocket(hub)
        for index in 0..<3 {
            try await send(app, ClientMessage.command(requestID: "r\(index)", sensorID: "nobody", service: "x", data: [:]).envelope)
        }
        var statuses: [String: Int] = [:]
        while statuses.count < 3, let message = await app.receive() {
            if case .text(let text) = message, case .commandResponse(let id, let status, _)? = ServerMessage.decode(text) { statuses[id] = status }
        }
        #expect(statuses == ["r0": 404, "r1": 404, "r2": 429])
        try await send(app, ClientMessage.subscribe(sensorID: "still-here").envelope)
        #expect(await eventually { hub.subscriberCount("still-here") == 1 }, "the connection stays after a 429")
        let lister = try await openSocket(hub)
        for _ in 0..<3 { try await send(lister, ClientMessage.listSensors.envelope) }
        var lists = 0
        while let message = await lister.receive() {
            if case .text(let text) = message, case .sensorList? = ServerMessage.decode(text) { lists += 1 }
        }
        #expect(lists == 2, "the burst of two was answered before the close")
        #expect((await lister.closed()).code.rawValue == 1008)
        #expect(try await hubStatistics(hub)?["limits_exceeded"]?.intValue == 2, "the 429 and the close")
        app.abort()
    }
}
