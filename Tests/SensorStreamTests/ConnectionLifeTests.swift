import Foundation
import Locking
import Testing
import TestSupport
import WebSocketCore
@testable import SensorHub
@testable import SensorStream
import SensorWire

/// A raw server that completes the WebSocket handshake and then does what the test says.
func acceptRawClient(_ raw: RawServer) async throws -> RawPeer {
    try await onThread { try raw.acceptWebSocket() }
}

/// Reads frames a client sent until `count` arrived (or 5 s passed).
func readClientFrames(_ peer: RawPeer, count: Int) async throws -> [WebSocketFrame] {
    try await onThread {
        var collector = FrameCollector(FrameDecoder(role: .server, maxFrameSize: 1 << 20))
        var frames: [WebSocketFrame] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while frames.count < count && ContinuousClock.now < deadline {
            let bytes = try peer.read(count: 1, timeout: .milliseconds(200))
            if !bytes.isEmpty { frames += try collector.feed(bytes) }
        }
        return frames
    }
}

func envelopes(_ frames: [WebSocketFrame]) -> [ClientMessage] {
    frames.compactMap { frame in
        guard frame.opcode == .text else { return nil }
        return SensorProtocol.decode(String(decoding: frame.payload, as: UTF8.self)).flatMap(ClientMessage.init)
    }
}

@Suite("Connection life: reconnect, resubscribe, heartbeat, timeouts, bad input", .timeLimit(.minutes(1)))
struct ConnectionLifeTests {
    @Test("a dropped connection reconnects, resubscribes on the wire and keeps delivering; the gap is marked")
    func reconnectAfterDrop() async throws {
        let (hub, recorder, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        let stateStream = client.connectionStates
        let states = Task { await collect(stateStream, count: 5) }
        try await client.connect()
        try await client.subscribe("TEMP01")
        let received = LockedValue<[SensorReading]>([])
        try await client.registerCallback("CE7238J") { _, _ in }
        let loop = Task { for await reading in client.readings("HUM02") { received.withLock { $0.append(reading) } } }
        #expect(await eventually { hub.subscriberCount("HUM02") == 1 && hub.subscriberCount("CE7238J") == 1 })
        agent.publish("HUM02", ["seq": 1])
        #expect(await eventually { received.withLock { $0.count } == 1 })

        hub.dropAllConnections()
        #expect(await recorder.waitFor(.connect, times: 2))
        for id in ["CE7238J", "HUM02", "TEMP01"] {
            #expect(await recorder.waitFor(.subscribe(sensorID: id), times: 2), "resubscribed \(id)")
        }
        #expect(await eventually { hub.subscriberCount("HUM02") == 1 })
        agent.publish("HUM02", ["seq": 2])
        agent.publish("HUM02", ["seq": 3])
        #expect(await eventually { received.withLock { $0.count } == 3 })
        #expect(received.withLock { $0.map(\.followsGap) } == [false, true, false])
        #expect(client.statistics.reconnects == 1)
        let seen = await states.value
        #expect(seen.prefix(3) == [.idle, .connecting(attempt: 0), .connected])
        guard seen.count == 5, case .reconnecting(1, _, let reason) = seen[3] else { Issue.record("\(seen)"); return }
        #expect(reason.closeCode == 1006)
        #expect(seen[4] == .connecting(attempt: 1))
        loop.cancel()
        await client.disconnect()
    }

    @Test("the hub restarting behind the same port: reconnect with backoff, then readings again")
    func reconnectAfterRestart() async throws {
        let (hub, _, _) = try makeHub()
        // The client's port stays bound the whole test (a proxy holds it), so no parallel test
        // can take it while the hub is down; the restarted hub listens wherever it gets a port.
        let proxy = try FaultProxy(upstreamPort: hub.port)
        defer { proxy.stop() }
        let port = proxy.port
        let client = SensorClient(host: "127.0.0.1", port: port, configuration: testConfiguration())
        try await client.connect()
        let received = LockedValue<[Int]>([])
        let loop = Task { for await reading in client.readings("CE7238J") { received.withLock { $0.append(reading.readings.intValue ?? -1) } } }
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        proxy.setUpstreamPort(nil)  // nothing behind the port: every attempt is closed at once
        await hub.stop()
        #expect(await eventually {
            if case .reconnecting(let attempt, _, _) = client.currentState { return attempt >= 2 }
            return false
        }, "keeps trying while the hub is down")
        // Calls while reconnecting are accepted; their state is sent once the connection is back.
        try await client.subscribe("TEMP01")
        let (restarted, recorder, agent) = try makeHub()
        proxy.setUpstreamPort(restarted.port)
        defer { Task { await restarted.stop() } }
        #expect(await recorder.waitFor(.subscribe(sensorID: "CE7238J")))
        #expect(await recorder.waitFor(.subscribe(sensorID: "TEMP01")))
        agent.publish("CE7238J", 7)
        #expect(await eventually { received.withLock { $0 } == [7] })
        #expect(client.currentState == .connected)
        loop.cancel()
        await client.disconnect()
    }

    @Test("reconnecting gives up after maxAttempts: state disconnected, streams finished")
    func givesUp() async throws {
        // The port stays bound (so no parallel test can take it); after the first connection,
        // every handshake is refused by closing the connection.
        let raw = try RawServer()
        defer { raw.close() }
        var configuration = testConfiguration()
        configuration.connectTimeout = .seconds(30)
        configuration.reconnect = .init(initialDelay: .milliseconds(10), maxDelay: .milliseconds(20), jitter: 0, maxAttempts: 2)
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: configuration)
        async let accepted = acceptRawClient(raw)
        try await client.connect()
        let peer = try await accepted
        let readings = Task { await drain(client.readings("CE7238J")) }
        let stateStream = client.connectionStates
        let states = Task { await collect(stateStream, count: 6) }
        let refusals = Task { try await onThread { for _ in 0..<2 { try raw.answerOnce(with: "") } } }
        peer.socket.abort()
        #expect(await eventually {
            if case .disconnected = client.currentState { return true }
            return false
        })
        let readingsSeen = await readings.value
        #expect(readingsSeen.ended && readingsSeen.elements.isEmpty, "the readings loop ended when reconnecting gave up")
        try await refusals.value
        let seen = await states.value
        #expect(seen.count == 6 && seen.first == .connected, "\(seen)")
        #expect(seen.map { if case .reconnecting(let attempt, _, _) = $0 { attempt } else { 0 } }.filter { $0 > 0 } == [1, 2])
        await #expect(throws: SensorClientError.disconnected) { try await client.subscribe("A") }
    }

    @Test("the heartbeat finds a server that stopped answering, and the client reconnects")
    func heartbeat() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let clock = ManualClock()
        let configuration = testConfiguration(heartbeat: .init(interval: .seconds(10), timeout: .seconds(5)))
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: configuration, clock: clock)
        async let accepted = acceptRawClient(raw)
        try await client.connect()
        let peer = try await accepted
        #expect(await clock.waitForSleepers(1))  // the heartbeat's interval
        clock.advance(by: .seconds(10))
        let frames = try await readClientFrames(peer, count: 2)
        #expect(frames.map(\.opcode) == [.text, .ping], "client_connect, then a ping")
        #expect(await clock.waitForSleepers(1))  // the pong timeout
        #expect(client.currentState == .connected)
        clock.advance(by: .seconds(5))
        #expect(await eventually {
            if case .reconnecting(1, _, let reason) = client.currentState { return reason.message.contains("pong") }
            return false
        })
        peer.close()
        await client.disconnect()
    }

    @Test("a request the server never answers times out after requestTimeout (test clock)")
    func requestTimeout() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let clock = ManualClock()
        var configuration = testConfiguration()
        configuration.requestTimeout = .seconds(5)
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: configuration, clock: clock)
        async let accepted = acceptRawClient(raw)
        try await client.connect()
        let peer = try await accepted
        let request = Task { try await client.sensorConnected("CE7238J") }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1, "not yet")
        clock.advance(by: .seconds(1))
        await #expect(throws: SensorClientError.timeout) { try await request.value }
        let frames = try await readClientFrames(peer, count: 2)
        #expect(envelopes(frames) == [.connect, .connectionStatus(sensorID: "CE7238J")])
        peer.close()
        await client.disconnect()
    }

    @Test("malformed server messages of every kind are skipped; the client stays connected and delivering")
    func malformedMessages() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: testConfiguration())
        async let accepted = acceptRawClient(raw)
        try await client.connect()
        let peer = try await accepted
        let readings = Task { await collect(client.readings("X1"), count: 2) }
        let framesStream = client.frames  // registered now, not when the task starts
        let frames = Task { await collect(framesStream, count: 10) }
        let statusesStream = client.sensorStatuses  // registered now, not when the task starts
        let statuses = Task { await collect(statusesStream, count: 1) }
        _ = try await readClientFrames(peer, count: 2)  // client_connect, subscribe_sensor
        let bad: [String] = [
            "not json", "[1,2,3]", "{}", #"{"event":"weird","data":{}}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"X1"}}"#,
            #"{"event":"new_sensor_data","data":"oops"}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":5,"sensor_readings":1}}"#,
            #"{"event":"sensor_connection_status","data":{"sensor_id":"X1","connected":"yes"}}"#,
        ]
        var bytes: [UInt8] = []
        for text in bad { bytes += serverFrame(.text, Array(text.utf8)) }
        bytes += serverFrame(.binary, [1, 2, 3])
        bytes += serverFrame(.text, Array(#"{"event":"new_sensor_data","data":{"sensor_id":"X1","sensor_readings":{"t":1}}}"#.utf8))
        bytes += serverFrame(.text, Array(#"{"event":"sensor_connection_status","data":{"sensor_id":"X1","connected":false},"extra":1}"#.utf8))
        bytes += serverFrame(.text, Array(#"{"event":"new_sensor_data","data":{"sensor_id":"X1","sensor_readings":[null,true,"s",2.5]}}"#.utf8))
        let wire = bytes
        try await onThread { try peer.write(wire) }
        let delivered = await readings.value
        #expect(delivered.map(\.readings) == [["t": 1], [nil, true, "s", 2.5]])
        #expect(await statuses.value == [SensorStatus(sensorID: "X1", connected: false)])
        #expect(await frames.value.count == 10, "the raw stream sees everything, binary included")
        #expect(client.statistics.messagesSkipped == bad.count + 1)
        #expect(client.currentState == .connected)
        peer.close()
        await client.disconnect()
    }

    @Test("an agent dropping pushes connected:false to subscribers, and true when it returns")
    func unsolicitedStatus() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        let statusesStream = client.sensorStatuses  // registered now, not when the task starts
        let statuses = Task { await collect(statusesStream, count: 2) }
        try await client.subscribe("CE7238J")
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        agent.detach()
        _ = hub.attachAgent(name: "agent-2", sensors: ["CE7238J"])
        #expect(await statuses.value == [SensorStatus(sensorID: "CE7238J", connected: false), SensorStatus(sensorID: "CE7238J", connected: true)])
        await client.disconnect()
    }

    @Test("a status request pending while the connection drops is re-sent after the reconnect")
    func requestAcrossReconnect() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: testConfiguration())
        async let first = acceptRawClient(raw)
        try await client.connect()
        let peer = try await first
        let request = Task { try await client.sensorConnected("S1") }
        #expect(envelopes(try await readClientFrames(peer, count: 2)) == [.connect, .connectionStatus(sensorID: "S1")])
        peer.socket.abort()
        let second = try await acceptRawClient(raw)
        #expect(envelopes(try await readClientFrames(second, count: 2)) == [.connect, .connectionStatus(sensorID: "S1")])
        let answer = SensorProtocol.encode(ServerMessage.connectionStatus(sensorID: "S1", connected: true).envelope)
        try await onThread { try second.write(serverFrame(.text, Array(answer.utf8))) }
        #expect(try await request.value)
        second.close()
        await client.disconnect()
    }
}
