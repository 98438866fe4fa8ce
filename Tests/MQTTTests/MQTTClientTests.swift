import Locking
import Testing
import TestSupport
@testable import MQTT

/// ``MQTTClient`` against a broker the test scripts on loopback: exact packets both ways.
@Suite("MQTTClient against a scripted broker", .timeLimit(.minutes(1)))
struct MQTTClientTests {
    static func configuration() -> MQTTClient.Configuration {
        var configuration = MQTTClient.Configuration()
        configuration.clientID = "test-client"
        configuration.keepAlive = .zero
        configuration.reconnectDelay = .milliseconds(20)
        configuration.maxReconnectDelay = .milliseconds(50)
        return configuration
    }

    /// Connects `client` to `broker`, which accepts it; the broker's side of the connection.
    static func connect(_ client: MQTTClient, to broker: ScriptedBroker) async throws -> BrokerSide {
        async let connecting: Void = client.connect()
        let side = try await broker.accept()
        try await side.acceptConnect()
        try await connecting
        return side
    }

    /// Waits for the client's state to satisfy `condition`.
    static func waitForState(_ client: MQTTClient, _ condition: @escaping @Sendable (ClientPhase) -> Bool) async -> Bool {
        for await phase in client.connectionStates where condition(phase) { return true }
        return false
    }

    @Test("connect sends CONNECT with the configuration; a refusing CONNACK throws refused and nothing is retried")
    func connectAndRefuse() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        var configuration = Self.configuration()
        configuration.username = "user"
        configuration.password = "secret"
        configuration.keepAlive = .seconds(30)
        configuration.will = MQTTMessage(topic: "hubs/h1", text: "offline", qos: .atLeastOnce, retain: true)
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration)
        async let connecting: Void = client.connect()
        let side = try await broker.accept()
        let connect = try await side.next()
        #expect(connect == .connect(MQTTConnect(clientID: "test-client", cleanSession: true, keepAlive: 30,
                                                will: MQTTWill(topic: "hubs/h1", payload: Array("offline".utf8), qos: .atLeastOnce, retain: true),
                                                username: "user", password: Array("secret".utf8))))
        try side.send(.connAck(MQTTConnAck(sessionPresent: false, returnCode: .notAuthorized)))
        var thrown: MQTTClientError?
        do { try await connecting } catch { thrown = error as? MQTTClientError }
        #expect(thrown == .refused(.notAuthorized))
        #expect(client.currentState == .idle)
        side.close()
    }

    @Test("iterating subscribes once per filter; messages reach every loop whose filter matches; QoS 1 is acknowledged; the last loop to leave unsubscribes")
    func subscriptions() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        async let connecting: Void = client.connect()
        let side = try await broker.accept()
        try await side.acceptConnect()
        try await connecting

        let first = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in client.messages(matching: "sensors/+/temperature", qos: .atLeastOnce) {
                seen.append("\(message.topic)=\(message.text)")
                if seen.count == 2 { break }
            }
            return seen
        }
        guard case .subscribe(let id, let subscriptions)? = try await side.next() else {
            Issue.record("no SUBSCRIBE")
            return
        }
        #expect(subscriptions == [MQTTSubscription(filter: "sensors/+/temperature", qos: .atLeastOnce)])
        // A second loop on the same filter sends nothing; one on another filter does (control).
        let second = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in client.messages(matching: "sensors/+/temperature") {
                seen.append(message.topic)
                if seen.count == 2 { break }
            }
            return seen
        }
        let other = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in client.messages(matching: "sensors/#") {
                seen.append(message.topic)
                if seen.count == 3 { break }
            }
            return seen
        }
        guard case .subscribe(let otherID, let otherSubscriptions)? = try await side.next() else {
            Issue.record("no second SUBSCRIBE")
            return
        }
        #expect(otherSubscriptions == [MQTTSubscription(filter: "sensors/#", qos: .atMostOnce)])
        try side.send(.subAck(packetID: id, returnCodes: [.granted(.atLeastOnce)]),
                      .subAck(packetID: otherID, returnCodes: [.granted(.atMostOnce)]))
        #expect(await eventually { client.engine.consumerCount == 3 })
        try side.send(.publish(MQTTPublish(topic: "sensors/A1/temperature", payload: Array("21.5".utf8), qos: .atLeastOnce, packetID: 9)),
                      .publish(MQTTPublish(topic: "sensors/A1/humidity", payload: Array("40".utf8))),
                      .publish(MQTTPublish(topic: "sensors/A2/temperature", payload: Array("19".utf8))))
        #expect(try await side.next() == .pubAck(packetID: 9))
        #expect(try await first.value == ["sensors/A1/temperature=21.5", "sensors/A2/temperature=19"])
        #expect(try await second.value == ["sensors/A1/temperature", "sensors/A2/temperature"])
        #expect(try await other.value == ["sensors/A1/temperature", "sensors/A1/humidity", "sensors/A2/temperature"])
        // Both loops on the temperature filter left, then the other one: two UNSUBSCRIBEs.
        var unsubscribed: [String] = []
        while unsubscribed.count < 2, case .unsubscribe(_, let filters)? = try await side.next() { unsubscribed += filters }
        #expect(unsubscribed.sorted() == ["sensors/#", "sensors/+/temperature"])
        #expect(client.statistics.messagesReceived == 3)
        await client.disconnect()
        #expect(try await side.next() == .disconnect)
    }

    @Test("a loop started before connect() subscribes right after the CONNACK; a publish before connect() throws notConnected")
    func loopBeforeConnect() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        var early: MQTTClientError?
        do { try await client.publish(MQTTMessage(topic: "t", text: "x")) } catch { early = error }
        #expect(early == .notConnected)
        let loop = Task { () async throws -> String? in
            for try await message in client.messages(matching: "early/+", qos: .atLeastOnce) { return message.text }
            return nil
        }
        #expect(await eventually { client.engine.consumerCount == 1 })
        let side = try await Self.connect(client, to: broker)
        guard case .subscribe(let id, let subscriptions)? = try await side.next() else {
            Issue.record("no SUBSCRIBE after CONNACK")
            return
        }
        #expect(subscriptions == [MQTTSubscription(filter: "early/+", qos: .atLeastOnce)])
        try side.send(.subAck(packetID: id, returnCodes: [.granted(.atLeastOnce)]),
                      .publish(MQTTPublish(topic: "early/bird", payload: Array("worm".utf8))))
        #expect(try await loop.value == "worm")
        await client.disconnect()
        side.close()
    }

    @Test("a QoS 1 publish returns at its PUBACK; lost with its connection it is sent again with DUP after the reconnect, with the subscriptions")
    func publishAcrossReconnect() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        async let connecting: Void = client.connect()
        var side = try await broker.accept()
        try await side.acceptConnect()
        try await connecting

        // Answered: returns.
        let answered = Task { try await client.publish(MQTTMessage(topic: "out/a", text: "1", qos: .atLeastOnce)) }
        guard case .publish(let first)? = try await side.next(), let firstID = first.packetID else {
            Issue.record("no PUBLISH")
            return
        }
        #expect(first.topic == "out/a" && first.payload == Array("1".utf8) && !first.dup)
        try side.send(.pubAck(packetID: firstID))
        try await answered.value

        let subscription = Task { () async throws -> String? in
            for try await message in client.messages(matching: "in/#") { return message.topic }
            return nil
        }
        guard case .subscribe(let subscribeID, _)? = try await side.next() else {
            Issue.record("no SUBSCRIBE")
            return
        }
        try side.send(.subAck(packetID: subscribeID, returnCodes: [.granted(.atMostOnce)]))
        // Unanswered, then the connection drops.
        let pending = Task { try await client.publish(MQTTMessage(topic: "out/b", text: "2", qos: .atLeastOnce)) }
        guard case .publish(let lost)? = try await side.next(), let lostID = lost.packetID else {
            Issue.record("no second PUBLISH")
            return
        }
        side.drop()
        side.close()
        side = try await broker.accept()
        try await side.acceptConnect(sessionPresent: false)
        let again = try await side.next()
        #expect(again == .publish(MQTTPublish(topic: "out/b", payload: Array("2".utf8), qos: .atLeastOnce, dup: true, packetID: lostID)))
        guard case .subscribe(let resubscribeID, let filters)? = try await side.next() else {
            Issue.record("not subscribed again")
            return
        }
        #expect(filters == [MQTTSubscription(filter: "in/#", qos: .atMostOnce)])
        try side.send(.pubAck(packetID: lostID), .subAck(packetID: resubscribeID, returnCodes: [.granted(.atMostOnce)]),
                      .publish(MQTTPublish(topic: "in/x", payload: [])))
        try await pending.value
        #expect(try await subscription.value == "in/x")
        #expect(client.statistics.reconnects >= 1)
        await client.disconnect()
        side.close()
    }

    @Test("QoS 0 publishes while reconnecting wait in a bounded queue (the oldest dropped, counted) and go out after the CONNACK")
    func offlineQueue() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        var configuration = Self.configuration()
        configuration.offlineQueueLimit = 3
        // The backoff sleeps on a manual clock: the client stays offline until it is advanced.
        let clock = ManualClock()
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration, clock: clock)
        async let connecting: Void = client.connect()
        var side = try await broker.accept()
        try await side.acceptConnect()
        try await connecting
        side.drop()
        #expect(await Self.waitForState(client) { if case .reconnecting = $0 { true } else { false } })
        for index in 0..<5 { try await client.publish(MQTTMessage(topic: "q", text: "\(index)")) }
        #expect(client.statistics.publishesDropped == 2)
        #expect(await eventually { clock.sleeperCount == 1 })
        clock.advance(by: .seconds(1))
        side.close()
        side = try await broker.accept()
        try await side.acceptConnect()
        var texts: [String] = []
        while texts.count < 3, case .publish(let message)? = try await side.next() { texts.append(String(decoding: message.payload, as: UTF8.self)) }
        #expect(texts == ["2", "3", "4"])
        await client.disconnect()
        side.close()
    }

    @Test("a loop that does not take its messages: by default reading waits and all 3,000 arrive in order; with subscriptionDropsOldest the newest 16 arrive and the rest are counted", arguments: [false, true])
    func slowConsumer(dropsOldest: Bool) async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        var configuration = Self.configuration()
        configuration.subscriptionBufferSize = 16
        configuration.subscriptionDropsOldest = dropsOldest
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration)
        let side = try await Self.connect(client, to: broker)
        let (gate, open) = AsyncStream<Void>.makeStream()
        let loop = Task { () async throws -> [String] in
            var iterator = client.messages(matching: "flood/#").makeAsyncIterator()
            for await _ in gate {}
            var seen: [String] = []
            while let message = try await iterator.next() {
                seen.append(message.text)
                if message.text == "2999" { break }
            }
            return seen
        }
        guard case .subscribe(let id, _)? = try await side.next() else {
            Issue.record("no SUBSCRIBE")
            return
        }
        try side.send(.subAck(packetID: id, returnCodes: [.granted(.atMostOnce)]))
        let flood = try (0..<3000).flatMap { try MQTTPacket.publish(MQTTPublish(topic: "flood/x", payload: Array("\($0)".utf8))).encoded() }
        let peer = side.peer
        let writer = Task { try await onThread { try peer.write(flood, timeout: .seconds(30)) } }
        if dropsOldest {
            #expect(await eventually { client.statistics.messagesReceived == 3000 })
            #expect(!client.engine.isWaitingForConsumer)
        } else {
            #expect(await eventually { client.engine.isWaitingForConsumer }, "reading waits for the loop")
            #expect(client.statistics.messagesReceived < 3000)
        }
        open.finish()
        let seen = try await loop.value
        try await writer.value
        if dropsOldest {
            #expect(seen == (2984..<3000).map(String.init))
            #expect(client.statistics.messagesDropped == 2984)
        } else {
            #expect(seen == (0..<3000).map(String.init))
            #expect(client.statistics.messagesDropped == 0)
        }
        await client.disconnect()
        side.close()
    }

    @Test("a malformed packet from the broker closes the connection and the client reconnects; a refused subscription ends its stream with subscriptionRefused")
    func malformedAndRefused() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        async let connecting: Void = client.connect()
        var side = try await broker.accept()
        try await side.acceptConnect()
        try await connecting
        // Made before the broker misbehaves, so it cannot miss the state.
        let phases = client.connectionStates
        let states = Task { () -> String? in
            for await phase in phases {
                if case .reconnecting(_, _, let reason) = phase { return reason }
            }
            return nil
        }
        try side.peer.write([0x40, 0x02, 0x00, 0x00])  // PUBACK with packet identifier 0
        #expect(try await side.ended(), "the client closed the connection")
        side.close()
        #expect(await states.value?.contains("malformed") == true)
        side = try await broker.accept()
        try await side.acceptConnect()
        let refused = Task { () async -> MQTTClientError? in
            do {
                for try await _ in client.messages(matching: "secret/#") {}
            } catch {
                return error as? MQTTClientError
            }
            return nil
        }
        guard case .subscribe(let id, _)? = try await side.next() else {
            Issue.record("no SUBSCRIBE")
            return
        }
        try side.send(.subAck(packetID: id, returnCodes: [.failure]))
        #expect(await refused.value == .subscriptionRefused(filter: "secret/#"))
        await client.disconnect()
        side.close()
    }

    @Test("keep-alive: PINGREQ every 3/4 of it on the injected clock; an unanswered one drops the connection after pingTimeout")
    func keepAlive() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let clock = ManualClock()
        var configuration = Self.configuration()
        configuration.keepAlive = .seconds(8)
        // Capped at a quarter of the keep-alive: 2 s are waited for, not 10.
        configuration.pingTimeout = .seconds(10)
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration, clock: clock)
        async let connecting: Void = client.connect()
        var side = try await broker.accept()
        let connect = try await side.acceptConnect()
        #expect(connect?.keepAlive == 8)
        try await connecting
        // Deadlines are offsets of the manual clock: the interval's sleep, the answer's wait.
        #expect(await eventually { clock.sleeperDeadlines == [.seconds(6)] })
        clock.advance(by: .seconds(6))
        #expect(try await side.next() == .pingReq)
        try side.send(.pingResp)
        #expect(await eventually { clock.sleeperDeadlines == [.seconds(12)] }, "answered: the next interval, no timeout pending")
        clock.advance(by: .seconds(6))
        #expect(try await side.next() == .pingReq)
        // Not answered: after the ping timeout the client drops the connection and reconnects.
        #expect(await eventually { clock.sleeperDeadlines == [.seconds(14)] })
        clock.advance(by: .seconds(2))
        #expect(try await side.ended())
        side.close()
        // The backoff sleeps on the same clock.
        #expect(await eventually { clock.sleeperCount == 1 })
        clock.advance(by: .seconds(1))
        side = try await broker.accept()
        #expect(try await side.acceptConnect() != nil)
        await client.disconnect()
        side.close()
    }

    @Test("a released client sends DISCONNECT and closes; one kept alive stays connected (control)")
    func release() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let kept = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        var released: MQTTClient? = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        let keptSide = try await Self.connect(kept, to: broker)
        let releasedSide = try await Self.connect(try #require(released), to: broker)
        released = nil
        #expect(try await releasedSide.next() == .disconnect)
        #expect(try await releasedSide.ended(), "the released client closed its connection")
        #expect(kept.currentState == .connected)
        try await kept.publish(MQTTMessage(topic: "still", text: "here"))
        #expect(try await keptSide.next() == .publish(MQTTPublish(topic: "still", payload: Array("here".utf8))))
        await kept.disconnect()
        keptSide.close()
        releasedSide.close()
    }

    @Test("a kept session: QoS 2 goes PUBLISH, PUBREC, PUBREL; the PUBREL lost with its connection is sent again after a CONNACK with the session present, then UNSUBSCRIBE for a filter left while offline; PUBCOMP completes the call")
    func keptSession() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let clock = ManualClock()
        var configuration = Self.configuration()
        configuration.cleanSession = false
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration, clock: clock)
        async let connecting: Void = client.connect()
        var side = try await broker.accept()
        let connect = try await side.acceptConnect()
        #expect(connect?.cleanSession == false)
        try await connecting

        let loop = Task { () async throws -> Int in
            var count = 0
            for try await _ in client.messages(matching: "kept/#", qos: .atLeastOnce) { count += 1 }
            return count
        }
        guard case .subscribe(let subscribeID, _)? = try await side.next() else {
            Issue.record("no SUBSCRIBE")
            return
        }
        try side.send(.subAck(packetID: subscribeID, returnCodes: [.granted(.atLeastOnce)]))
        let publish = Task { try await client.publish(MQTTMessage(topic: "out/x", text: "once", qos: .exactlyOnce)) }
        guard case .publish(let sent)? = try await side.next(), let id = sent.packetID else {
            Issue.record("no PUBLISH")
            return
        }
        #expect(sent.qos == .exactlyOnce && !sent.dup)
        try side.send(.pubRec(packetID: id))
        #expect(try await side.next() == .pubRel(packetID: id))
        side.drop()
        side.close()
        #expect(await Self.waitForState(client) { if case .reconnecting = $0 { true } else { false } })
        // Offline: the loop leaves; the broker still holds its filter in the kept session.
        loop.cancel()
        _ = try? await loop.value
        #expect(await eventually { client.engine.consumerCount == 0 })
        // The backoff's sleep (the publish's 30 s timeout sleeps on the same clock).
        #expect(await eventually { clock.sleeperDeadlines.contains { $0 < .seconds(1) } })
        clock.advance(by: .seconds(1))
        side = try await broker.accept()
        try await side.acceptConnect(sessionPresent: true)
        #expect(try await side.next() == .pubRel(packetID: id))
        guard case .unsubscribe(_, let filters)? = try await side.next() else {
            Issue.record("no UNSUBSCRIBE for the filter left offline")
            return
        }
        #expect(filters == ["kept/#"])
        try side.send(.pubComp(packetID: id))
        try await publish.value
        // Nothing else was sent for the filter left offline: the next packet is DISCONNECT.
        await client.disconnect()
        #expect(try await side.next() == .disconnect)
        side.close()
    }

    @Test("a QoS 1 publish: its timeout (manual clock) throws timeout, a cancelled caller gets cancelled, disconnect fails a waiting one with closed")
    func publishEndings() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let clock = ManualClock()
        var configuration = Self.configuration()
        configuration.requestTimeout = .seconds(5)
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration, clock: clock)
        async let connecting: Void = client.connect()
        let side = try await broker.accept()
        try await side.acceptConnect()
        try await connecting
        func outcome(_ task: Task<Void, any Error>) async -> MQTTClientError? {
            do {
                try await task.value
                return nil
            } catch {
                return error as? MQTTClientError
            }
        }
        let timed = Task { try await client.publish(MQTTMessage(topic: "t", text: "1", qos: .atLeastOnce)) }
        guard case .publish? = try await side.next() else { return }
        #expect(await eventually { clock.sleeperDeadlines == [.seconds(5)] })
        clock.advance(by: .seconds(5))
        #expect(await outcome(timed) == .timeout)
        let cancelled = Task { try await client.publish(MQTTMessage(topic: "t", text: "2", qos: .atLeastOnce)) }
        guard case .publish? = try await side.next() else { return }
        cancelled.cancel()
        #expect(await outcome(cancelled) == .cancelled)
        let closed = Task { try await client.publish(MQTTMessage(topic: "t", text: "3", qos: .atLeastOnce)) }
        guard case .publish? = try await side.next() else { return }
        await client.disconnect()
        #expect(await outcome(closed) == .closed)
        #expect(try await side.next() == .disconnect)
        side.close()
    }

    @Test("what cannot be encoded is refused before anything is sent: a topic with U+0000, a filter with U+0000, wildcards in a topic name")
    func invalidArguments() async throws {
        let client = MQTTClient(host: "127.0.0.1", port: 1, configuration: Self.configuration())
        for topic in ["a\u{0}b", "a/+", "a/#", ""] {
            var thrown: MQTTClientError?
            do { try await client.publish(MQTTMessage(topic: topic, text: "x")) } catch { thrown = error }
            guard case .invalidArgument? = thrown else {
                Issue.record("\(topic.debugDescription): \(String(describing: thrown))")
                continue
            }
        }
        // Control: a valid topic gets as far as the connection check.
        var control: MQTTClientError?
        do { try await client.publish(MQTTMessage(topic: "a/b", text: "x")) } catch { control = error }
        #expect(control == .notConnected)
        var filterError: MQTTClientError?
        do {
            for try await _ in client.messages(matching: "a/\u{0}") {}
        } catch {
            filterError = error
        }
        guard case .invalidArgument? = filterError else {
            Issue.record("a filter with U+0000: \(String(describing: filterError))")
            return
        }
    }

    @Test("a refused QoS upgrade ends only the loop that asked for it; the loop at the granted QoS goes on receiving")
    func refusedUpgrade() async throws {
        let broker = try ScriptedBroker()
        defer { broker.close() }
        let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: Self.configuration())
        let side = try await Self.connect(client, to: broker)
        let low = Task { () async throws -> String? in
            for try await message in client.messages(matching: "up/#") { return message.text }
            return nil
        }
        guard case .subscribe(let first, _)? = try await side.next() else {
            Issue.record("no SUBSCRIBE")
            return
        }
        try side.send(.subAck(packetID: first, returnCodes: [.granted(.atMostOnce)]))
        #expect(await eventually { client.engine.grantedFilters == ["up/#"] })
        let high = Task { () async -> MQTTClientError? in
            do {
                for try await _ in client.messages(matching: "up/#", qos: .exactlyOnce) {}
            } catch {
                return error as? MQTTClientError
            }
            return nil
        }
        guard case .subscribe(let second, let subscriptions)? = try await side.next() else {
            Issue.record("no SUBSCRIBE for the upgrade")
            return
        }
        #expect(subscriptions == [MQTTSubscription(filter: "up/#", qos: .exactlyOnce)])
        try side.send(.subAck(packetID: second, returnCodes: [.failure]))
        #expect(await high.value == .subscriptionRefused(filter: "up/#"))
        #expect(client.engine.grantedFilters == ["up/#"])
        try side.send(.publish(MQTTPublish(topic: "up/x", payload: Array("still".utf8))))
        #expect(try await low.value == "still")
        await client.disconnect()
        side.close()
    }
}
