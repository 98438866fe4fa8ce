import Foundation
import Locking
import Testing
import TestSupport
import WebSocketCore
import WebSocketIO
@testable import SensorHub
@testable import SensorStream
import SensorWire

/// Connects a WebSocket agent to the hub and announces its sensors.
func connectAgent(_ hub: Hub, name: String, sensors: [String]) async throws -> WebSocketConnection {
    let connection = try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port)
    try await connection.send(text: SensorProtocol.encode(AgentMessage.connect(agentID: name, sensors: sensors).envelope))
    return connection
}

func publish(_ agent: WebSocketConnection, _ sensorID: String, _ readings: JSONValue) async throws {
    try await agent.send(text: SensorProtocol.encode(AgentMessage.data(sensorID: sensorID, readings: readings).envelope))
}

@Suite("Hub on loopback: clients and agents", .timeLimit(.minutes(1)))
struct HubIntegrationTests {
    @Test("several clients and WebSocket agents: fan-out in agent order, status pushes when an agent drops")
    func fanOutAndAgentDrop() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let agentA = try await connectAgent(hub, name: "A", sensors: ["A-1", "A-2"])
        let agentB = try await connectAgent(hub, name: "B", sensors: ["B-1"])
        #expect(await eventually { hub.isConnected("A-1") && hub.isConnected("B-1") })
        let clients = (0..<3).map { _ in SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled)) }
        for client in clients { try await client.connect() }
        let collected = clients.map { client in Task { await collectReadings(client.readings("A-1"), count: 50) } }
        let statuses = Task { await collectReadings(clients[0].sensorStatuses, count: 1) }
        let other = Task { await collectReadings(clients[1].readings("B-1"), count: 1) }
        #expect(await eventually { hub.subscriberCount("A-1") == 3 && hub.subscriberCount("B-1") == 1 })
        for index in 0..<50 { try await publish(agentA, "A-1", .number(Double(index))) }
        try await publish(agentB, "B-1", "b")
        for task in collected {
            #expect(await task.value.map { $0.readings.intValue ?? -1 } == Array(0..<50))
        }
        #expect(await other.value.map(\.readings) == ["b"])
        try await clients[0].subscribe("A-2")
        #expect(await eventually { hub.subscriberCount("A-2") == 1 })
        agentA.abort()  // the agent vanishes without a close frame
        let pushed = await statuses.value.first
        #expect(pushed == SensorStatus(sensorID: "A-2", connected: false) || pushed == SensorStatus(sensorID: "A-1", connected: false))
        #expect(try await clients[2].sensorConnected("A-1") == false)
        #expect(try await clients[2].sensorConnected("B-1") == true)
        for client in clients { await client.disconnect() }
        await agentB.close()
    }

    @Test("misbehaving connections are skipped or closed without affecting others")
    func misbehaving() async throws {
        let hub = try Hub(maxMessageSize: 4096)
        defer { Task { await hub.stop() } }
        let agent = hub.attachAgent(name: "local", sensors: ["S"])
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled))
        try await client.connect()
        let readings = Task { await collectReadings(client.readings("S"), count: 2) }
        #expect(await eventually { hub.subscriberCount("S") == 1 })

        // Garbage, unknown events and binary frames are skipped; the connection stays.
        let rude = try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port)
        for text in ["not json", #"{"event":"nope","data":""}"#, #"{"event":"subscribe_sensor","data":{}}"#] {
            try await rude.send(text: text)
        }
        try await rude.send(binary: [1, 2, 3])
        try await rude.send(text: SensorProtocol.encode(ClientMessage.connectionStatus(sensorID: "S").envelope))
        guard case .text(let answer)? = await rude.receive() else { Issue.record("no answer"); return }
        #expect(SensorProtocol.decode(answer).flatMap(ServerMessage.init) == .connectionStatus(sensorID: "S", connected: true))

        // An oversized frame is closed with 1009; a flood and an abrupt drop do not matter to others.
        let huge = try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port)
        try await huge.send(text: String(repeating: "x", count: 10_000))
        #expect(await huge.closed().code == .messageTooBig)
        let flood = try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port)
        for _ in 0..<2000 { try await flood.send(text: #"{"event":"client_connect","data":""}"#) }
        flood.abort()
        agent.publish("S", 1)
        agent.publish("S", 2)
        #expect(await readings.value.map(\.readings) == [1, 2])
        #expect(client.currentState == .connected)
        await client.disconnect()
        await rude.close()
    }

    @Test("a subscriber that never reads is capped: its readings are dropped, others keep receiving",
          arguments: [1, 50])
    func slowSubscriberBounded(batch: Int) async throws {
        let hub = try Hub(maxBacklog: 64 * 1024)
        defer { Task { await hub.stop() } }
        let agent = hub.attachAgent(name: "local", sensors: ["S"])
        // A raw WebSocket subscriber that never reads from its socket.
        let slow = try await WebSocketConnection.connect(
            host: "127.0.0.1", port: hub.port, configuration: .init(inboundBufferLimit: 16 * 1024))
        try await slow.send(text: SensorProtocol.encode(ClientMessage.subscribe(sensorID: "S").envelope))
        let fast = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled, readingBufferSize: 100_000))
        try await fast.connect()
        let count = 20_000
        let received = Task { await collectReadings(fast.readings("S"), count: count, timeout: .seconds(30)) }
        #expect(await eventually { hub.subscriberCount("S") == 2 })
        let payload: JSONValue = ["padding": .string(String(repeating: "p", count: 200))]
        // One reading per publish, or batches as a busy agent's socket read brings them.
        for start in stride(from: 0, to: count, by: batch) {
            let readings = (start..<min(count, start + batch)).map { index -> (sensorID: String, readings: JSONValue) in
                ("S", ["seq": .number(Double(index)), "data": payload])
            }
            if batch == 1 { agent.publish("S", readings[0].readings) } else { agent.publish(readings) }
        }
        let readings = await received.value
        #expect(readings.count == count)
        let sequence = readings.map { $0.readings["seq"]?.intValue ?? -1 }
        let firstGap = zip(sequence, 0..<count).first { $0.0 != $0.1 }?.1
        let inOrder = sequence == Array(0..<count)
        #expect(inOrder, "the fast subscriber got everything in order; first gap at \(firstGap.map(String.init) ?? "none")")
        let events = Task { () -> Bool in
            for await event in hub.events { if case .readingsDropped = event { return true } }
            return false
        }
        #expect(await events.value, "the hub reported dropping readings for the slow subscriber")
        slow.abort()
        await fast.disconnect()
    }

    @Test("statuses are never dropped: a subscriber far past its backlog still gets the sensor's disconnection once it reads")
    func statusesNeverDropped() async throws {
        let hub = try Hub(maxBacklog: 64 * 1024)
        defer { Task { await hub.stop() } }
        let agent = hub.attachAgent(name: "local", sensors: ["S"])
        let slow = try await WebSocketConnection.connect(
            host: "127.0.0.1", port: hub.port, configuration: .init(inboundBufferLimit: 16 * 1024))
        try await slow.send(text: SensorProtocol.encode(ClientMessage.subscribe(sensorID: "S").envelope))
        #expect(await eventually { hub.subscriberCount("S") == 1 })
        let payload: JSONValue = ["padding": .string(String(repeating: "p", count: 200))]
        for index in 0..<20_000 { agent.publish("S", ["seq": .number(Double(index)), "data": payload]) }
        #expect(hub.droppedReadings > 0, "positive control: its backlog was full, readings were dropped")
        agent.removeSensor("S")
        var disconnected = false
        while let message = await slow.receive() {
            if case .text(let text) = message, case .connectionStatus("S", false)? = ServerMessage.decode(text) {
                disconnected = true
                break
            }
        }
        #expect(disconnected, "the status came through behind the readings it waited behind")
        slow.abort()
    }

    @Test("backpressure: a subscriber that stops reading holds the WebSocket agent back; nothing is dropped, order kept")
    func backpressureEndToEnd() async throws {
        let hub = try Hub(maxBacklog: 64 * 1024, overflow: .backpressure)
        defer { Task { await hub.stop() } }
        let agent = try await connectAgent(hub, name: "A", sensors: ["S"])
        #expect(await eventually { hub.isConnected("S") })
        // A raw subscriber that does not read yet: its small inbox fills and its kernel buffers
        // stay small (it never read fast), so the hub's backlog for it passes 64 KiB early.
        let subscriber = try await WebSocketConnection.connect(
            host: "127.0.0.1", port: hub.port, configuration: .init(inboundBufferLimit: 16 * 1024))
        try await subscriber.send(text: SensorProtocol.encode(ClientMessage.subscribe(sensorID: "S").envelope))
        #expect(await eventually { hub.subscriberCount("S") == 1 })
        let count = 20_000
        let padding = JSONValue.string(String(repeating: "p", count: 200))
        let publisher = Task {
            for index in 0..<count {
                try await publish(agent, "S", ["seq": .number(Double(index)), "pad": padding])
            }
        }
        #expect(await eventually { hub.publishersHeldBack > 0 }, "the hub stopped reading the agent until the subscriber caught up")
        // The subscriber reads now: every reading, in order (a drop at the hub would leave a gap).
        var next = 0
        var inOrder = true
        while next < count, let message = await subscriber.receive() {
            guard case .text(let text) = message, case .sensorData(_, let readings)? = ServerMessage.decode(text) else { continue }
            if readings["seq"]?.intValue != next { inOrder = false }
            next += 1
        }
        try await publisher.value
        #expect(next == count && inOrder, "every reading arrived, in order: \(next) of \(count)")
        agent.abort()
        subscriber.abort()
    }
}

/// Collects up to `count` elements within `timeout`.
func collectReadings<S: AsyncSequence & Sendable>(_ sequence: S, count: Int, timeout: Duration = .seconds(30)) async -> [S.Element]
where S.Element: Sendable {
    let collected = LockedValue<[S.Element]>([])
    let task = Task {
        do {
            for try await element in sequence {
                let done = collected.withLock { $0.append(element); return $0.count >= count }
                if done { break }
            }
        } catch {}
    }
    _ = await eventually(timeout: timeout) { collected.withLock { $0.count >= count } }
    task.cancel()
    return collected.withLock { $0 }
}
