import Locking
import Testing
import TestSupport
@testable import SensorHub
@testable import SensorStream

@Suite("SensorClient against the hub on loopback", .timeLimit(.minutes(1)))
struct SensorClientTests {
    @Test("connect sends client_connect; sensorConnected answers from the hub's state")
    func connectAndStatus() async throws {
        let (hub, recorder, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        #expect(await recorder.waitFor(.connect))
        #expect(try await client.sensorConnected("CE7238J"))
        #expect(try await client.sensorConnected("UNKNOWN") == false)
        agent.detach()
        #expect(try await client.sensorConnected("CE7238J") == false)
        // The hub's events reach the recorder's task after the hub answered: wait for them.
        #expect(await recorder.waitForMessages(4) == [.connect, .connectionStatus(sensorID: "CE7238J"),
                                      .connectionStatus(sensorID: "UNKNOWN"), .connectionStatus(sensorID: "CE7238J")])
        await client.disconnect()
        #expect(await recorder.waitFor(.disconnect))
    }

    @Test("concurrent status requests: different sensors each get their answer, the same sensor shares one round trip")
    func concurrentRequests() async throws {
        let (hub, recorder, _) = try makeHub(sensors: ["A", "B"])
        defer { Task { await hub.stop() } }
        // Answers are held back by a proxy until both requests for "A" are waiting, so they
        // are concurrent for certain (the hub answers at once otherwise), then released.
        let proxy = try FaultProxy(upstreamPort: hub.port)
        defer { proxy.stop() }
        let client = SensorClient(host: "127.0.0.1", port: proxy.port, configuration: testConfiguration())
        try await client.connect()
        proxy.setDelay(toClient: .seconds(600))
        async let a1 = client.sensorConnected("A")
        async let a2 = client.sensorConnected("A")
        async let b = client.sensorConnected("B")
        async let c = client.sensorConnected("C")
        #expect(await eventually { client.engine.waitingRequests("A") == 2 },
                "both requests for A wait before any answer can arrive")
        proxy.setDelay()
        await proxy.releaseHeld()
        let answers = try await [a1, a2, b, c]
        #expect(answers == [true, true, true, false])
        // The hub's events reach the recorder's task after the hub answered: wait for them.
        let requests = await recorder.waitForMessages(4).filter { if case .connectionStatus = $0 { true } else { false } }
        #expect(requests.count == 3
                && Set(requests) == [.connectionStatus(sensorID: "A"), .connectionStatus(sensorID: "B"), .connectionStatus(sensorID: "C")],
                "exactly one request per sensor: \(requests)")
        await client.disconnect()
    }

    @Test("subscribe, readings in order, unsubscribe: exact messages on the wire")
    func subscribeAndReadings() async throws {
        let (hub, recorder, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "localhost", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        try await client.subscribe("CE7238J")
        try await client.subscribe("CE7238J")  // already subscribed: nothing sent
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        let stream = client.readings("CE7238J")
        let received = Task { await collect(stream, count: 5) }
        // Published readings reach only attached consumers: wait for the loop to attach.
        #expect(await eventually { client.consumerCount("CE7238J") == 1 }, "the loop attached")
        for index in 0..<5 { agent.publish("CE7238J", ["seq": .number(Double(index)), "temperature": 21.5]) }
        let readings = await received.value
        #expect(readings.map { $0.readings["seq"]?.intValue } == [0, 1, 2, 3, 4])
        #expect(readings.allSatisfy { $0.sensorID == "CE7238J" && !$0.followsGap })
        try await client.unsubscribe("CE7238J")
        #expect(await recorder.waitFor(.unsubscribe(sensorID: "CE7238J")))
        #expect(recorder.messages == [.connect, .subscribe(sensorID: "CE7238J"), .unsubscribe(sensorID: "CE7238J")])
        await client.disconnect()
    }

    @Test("invalid sensor ids throw locally and send nothing", arguments: ["", String(repeating: "x", count: 41)])
    func invalidIDs(id: String) async throws {
        let (hub, recorder, _) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        await #expect(throws: SensorClientError.invalidSensorID(id)) { try await client.subscribe(id) }
        await #expect(throws: SensorClientError.invalidSensorID(id)) { try await client.unsubscribe(id) }
        await #expect(throws: SensorClientError.invalidSensorID(id)) { _ = try await client.sensorConnected(id) }
        await #expect(throws: SensorClientError.invalidSensorID(id)) { try await client.registerCallback(id) { _, _ in } }
        let invalid = await drain(client.readings(id))
        #expect(invalid.ended && invalid.elements.isEmpty, "the readings of an invalid id end at once, empty")
        // A 40-character id (of multi-byte characters) is fine.
        try await client.subscribe(String(repeating: "é", count: 40))
        #expect(await recorder.waitForMessages(2).count == 2)
        #expect(recorder.messages == [.connect, .subscribe(sensorID: String(repeating: "é", count: 40))])
        await client.disconnect()
    }

    @Test("ports: Int and String forms are validated")
    func ports() async {
        #expect(throws: SensorClientError.invalidPort("80a")) { try SensorClient(host: "h", port: "80a") }
        #expect(throws: SensorClientError.invalidPort("0")) { try SensorClient(host: "h", port: "0") }
        #expect(throws: SensorClientError.invalidPort("65536")) { try SensorClient(host: "h", port: "65536") }
        #expect(throws: SensorClientError.invalidPort("-1")) { try SensorClient(host: "h", port: "-1") }
        #expect(throws: SensorClientError.invalidPort("")) { try SensorClient(host: "h", port: "") }
        #expect(throws: SensorClientError.invalidPort(" 80")) { try SensorClient(host: "h", port: " 80") }
        #expect((try? SensorClient(host: "h", port: "5192"))?.port == 5192)
        await #expect(throws: SensorClientError.invalidPort("70000")) { try await SensorClient(host: "h", port: 70000).connect() }
    }

    @Test("connect to a server that is down throws connectionFailed; nothing retries")
    func serverDown() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        defer { withExtendedLifetime(refusing) {} }
        let client = SensorClient(host: "127.0.0.1", port: port, configuration: testConfiguration())
        do {
            try await client.connect()
            Issue.record("connected to nothing")
        } catch {
            guard case .connectionFailed = error else { Issue.record("\(error)"); return }
        }
        #expect(client.currentState == .idle)
        await #expect(throws: SensorClientError.notConnected) { _ = try await client.sensorConnected("A") }
    }

    @Test("callbacks with no and with three extra arguments; implicit subscribe; removeCallback releases it")
    func callbacks() async throws {
        let (hub, recorder, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        let plain = LockedValue<[Int]>([])
        let extra = LockedValue<[String]>([])
        try await client.registerCallback("TEMP01") { id, readings in
            plain.withLock { $0.append(readings["seq"]?.intValue ?? -1) }
            #expect(id == "TEMP01")
        }
        final class AwesomeClass: Sendable { let name = "awesome" }
        func myCallback(_ id: String, _ readings: JSONValue, _ a: String, _ b: Int, _ c: AwesomeClass) {
            extra.withLock { $0.append("\(id) \(readings["seq"]?.intValue ?? -1) \(a) \(b) \(c.name)") }
        }
        try await client.registerCallback("TEMP01", myCallback, callbackArgs: ("arg1", 24, AwesomeClass()))
        #expect(await recorder.waitFor(.subscribe(sensorID: "TEMP01")))
        for index in 0..<3 { agent.publish("TEMP01", ["seq": .number(Double(index))]) }
        #expect(await eventually { plain.withLock { $0 } == [0, 1, 2] && extra.withLock { $0.count } == 3 })
        #expect(extra.withLock { $0 } == ["TEMP01 0 arg1 24 awesome", "TEMP01 1 arg1 24 awesome", "TEMP01 2 arg1 24 awesome"])
        #expect(recorder.messages.filter { $0 == .subscribe(sensorID: "TEMP01") }.count == 1, "one subscribe for two callbacks")
        await client.removeCallback("TEMP01")
        #expect(await recorder.waitFor(.unsubscribe(sensorID: "TEMP01")))
        #expect(client.consumerCount("TEMP01") == 0, "both callbacks' consumers are gone")
        // Positive control in the same run: a stream still attached to another sensor gets the
        // reading published after TEMP01's, so TEMP01's would have arrived by then too.
        let control = Task { await collect(client.readings("HUM02"), count: 1) }
        #expect(await eventually { client.consumerCount("HUM02") == 1 && hub.subscriberCount("HUM02") == 1 })
        agent.publish("TEMP01", ["seq": 99])
        agent.publish("HUM02", ["seq": 7])
        #expect(await control.value.first?.readings["seq"]?.intValue == 7)
        #expect(plain.withLock { $0 } == [0, 1, 2], "a removed callback got a reading")
        #expect(extra.withLock { $0.count } == 3)
        await client.disconnect()
    }

    @Test("subscriptions are reference counted; an explicit subscribe outlives the loops")
    func referenceCounting() async throws {
        let (hub, recorder, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        let first = Task { await collect(client.readings("HUM02"), count: 2) }
        let second = Task { await collect(client.readings("HUM02"), count: 1) }
        #expect(await eventually { client.consumerCount("HUM02") == 2 }, "both loops started")
        #expect(await eventually { hub.subscriberCount("HUM02") == 1 })
        agent.publish("HUM02", ["seq": 0])
        #expect(await second.value.count == 1)
        // The second loop has ended (its consumer is detached) while the first still reads:
        // the detach is done, and it sent no unsubscribe.
        #expect(await eventually { client.consumerCount("HUM02") == 1 }, "the second loop detached")
        #expect(!recorder.messages.contains(.unsubscribe(sensorID: "HUM02")), "one consumer still reads")
        agent.publish("HUM02", ["seq": 1])
        #expect(await first.value.map { $0.readings["seq"]?.intValue } == [0, 1])
        #expect(await recorder.waitFor(.unsubscribe(sensorID: "HUM02")), "the last consumer gone unsubscribes")

        // With an explicit subscribe, ending a loop sends nothing.
        try await client.subscribe("TEMP01")
        let loop = Task { await collect(client.readings("TEMP01"), count: 1) }
        #expect(await eventually { client.consumerCount("TEMP01") == 1 }, "the loop attached")
        // The hub must have the subscription too, or it drops the reading (found by the 20x loop).
        #expect(await eventually { hub.subscriberCount("TEMP01") == 1 })
        agent.publish("TEMP01", ["seq": 0])
        #expect(await loop.value.count == 1)
        #expect(await eventually { client.consumerCount("TEMP01") == 0 }, "the loop detached")
        // Positive control: the client's next message reaches the hub after anything the
        // detach would have sent, and no unsubscribe came before it.
        try await client.subscribe("HUM02")
        #expect(await recorder.waitFor(.subscribe(sensorID: "HUM02"), times: 2))
        #expect(!recorder.messages.contains(.unsubscribe(sensorID: "TEMP01")))
        // A cancelled loop releases its subscription too.
        let cancelled = Task { await collect(client.readings("CE7238J"), count: 100) }
        #expect(await recorder.waitFor(.subscribe(sensorID: "CE7238J")))
        cancelled.cancel()
        #expect(await recorder.waitFor(.unsubscribe(sensorID: "CE7238J")))
        await client.disconnect()
    }

    @Test("several consumers of one sensor each get every reading, in order")
    func fanOut() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        let consumers = (0..<3).map { _ in Task { await collect(client.readings("CE7238J"), count: 200) } }
        #expect(await eventually { client.consumerCount("CE7238J") == 3 }, "all three loops started")
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        for index in 0..<200 { agent.publish("CE7238J", .number(Double(index))) }
        for consumer in consumers {
            #expect(await consumer.value.map { $0.readings.intValue ?? -1 } == Array(0..<200))
        }
        await client.disconnect()
    }

    @Test("disconnect finishes every stream, stops callbacks, and later calls throw; it is idempotent")
    func disconnectEndsEverything() async throws {
        let (hub, _, _) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        let readings = Task { await drain(client.readings("CE7238J")) }
        let framesStream = client.frames  // registered now, not when the task starts
        let frames = Task { await drain(framesStream) }
        let statesStream = client.connectionStates  // registered now, not when the task starts
        let states = Task { await collect(statesStream, count: 10) }
        #expect(await eventually { client.consumerCount("CE7238J") == 1 }, "the readings loop attached")
        await client.disconnect()
        await client.disconnect()
        let readingsSeen = await readings.value
        #expect(readingsSeen.ended && readingsSeen.elements.isEmpty, "the readings loop ended at disconnect")
        // The frames stream finished and saw no frame: the server sent nothing to this client.
        let framesSeen = await frames.value
        #expect(framesSeen.ended && framesSeen.elements.isEmpty, "the frames stream finished at disconnect")
        let seen = await states.value
        #expect(seen.first == .connected)
        #expect(seen.last == .disconnected(reason: DisconnectReason(closeCode: 1000, message: "disconnected by the app")))
        await #expect(throws: SensorClientError.disconnected) { try await client.subscribe("A") }
        await #expect(throws: SensorClientError.disconnected) { _ = try await client.sensorConnected("A") }
        await #expect(throws: SensorClientError.disconnected) { try await client.connect() }
        let late = await drain(client.readings("A"))
        #expect(late.ended && late.elements.isEmpty, "readings asked for after disconnect end at once")
        #expect(await eventually { hub.connectionCount == 0 })
    }
}

@Suite("Slow consumers", .timeLimit(.minutes(1)))
struct SlowConsumerTests {
    @Test("a stream's buffer bounds a slow consumer: the oldest readings are dropped and counted, others unaffected")
    func boundedBuffer() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        var slow = client.readings("CE7238J", bufferingNewest: 10).makeAsyncIterator()
        let fast = Task { await collect(client.readings("CE7238J"), count: 100) }
        #expect(await eventually { client.consumerCount("CE7238J") == 2 }, "both consumers attached")
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        for index in 0..<100 { agent.publish("CE7238J", .number(Double(index))) }
        #expect(await fast.value.count == 100, "the fast consumer is not held back")
        #expect(await eventually { client.statistics.readingsDropped == 90 })
        var kept: [Int] = []
        for _ in 0..<10 { if let reading = await slow.next() { kept.append(reading.readings.intValue ?? -1) } }
        #expect(kept == Array(90..<100), "the newest 10 are kept")
        await client.disconnect()
    }

    @Test("a server that answers the handshake wrongly is a protocol violation")
    func badHandshake() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let serve = Task { try await onThread { try raw.answerOnce(with: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") } }
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: testConfiguration())
        do {
            try await client.connect()
            Issue.record("connected")
        } catch {
            guard case .protocolViolation(let what) = error else { Issue.record("\(error)"); return }
            #expect(what.contains("200"))
        }
        try await serve.value
    }
}
