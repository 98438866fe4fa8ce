import Testing
import TestSupport
@testable import MQTT

/// ``MQTTClient`` against Debian's mosquitto, the reference broker: what the scripted broker
/// cannot show, that a real broker understands every packet we send.
@Suite("MQTTClient against mosquitto", .enabled(if: Mosquitto.shouldRun, "mosquitto is not installed"), .timeLimit(.minutes(1)))
struct MQTTMosquittoTests {
    static func client(_ port: Int, _ name: String, configure: (inout MQTTClient.Configuration) -> Void = { _ in }) -> MQTTClient {
        var configuration = MQTTClient.Configuration()
        configuration.clientID = name
        configuration.reconnectDelay = .milliseconds(20)
        configuration.maxReconnectDelay = .milliseconds(100)
        configuration.keepAlive = .seconds(5)
        configure(&configuration)
        return MQTTClient(host: "127.0.0.1", port: port, configuration: configuration)
    }

    @Test("QoS 0, 1 and 2 through the broker, each delivered once at the lower of the publisher's and the subscription's QoS; a second subscriber's filter gets what it matches")
    func qualitiesOfService() async throws {
        let broker = try await Mosquitto()
        defer { broker.stop() }
        // Two subscribers: how a broker serves one client's overlapping subscriptions is its
        // choice (mosquitto sends one copy), not what this test is about.
        let subscriber = Self.client(broker.port, "sub")
        let second = Self.client(broker.port, "sub2")
        let publisher = Self.client(broker.port, "pub")
        try await subscriber.connect()
        try await second.connect()
        try await publisher.connect()
        let exact = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in subscriber.messages(matching: "sensors/+/value", qos: .exactlyOnce) {
                seen.append("\(message.topic) \(message.text) qos\(message.qos.rawValue)")
                if seen.count == 3 { break }
            }
            return seen
        }
        let low = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in second.messages(matching: "sensors/A/#", qos: .atLeastOnce) {
                seen.append("\(message.topic) \(message.text) qos\(message.qos.rawValue)")
                if seen.count == 2 { break }
            }
            return seen
        }
        #expect(await eventually { subscriber.engine.grantedFilters == ["sensors/+/value"] && second.engine.grantedFilters == ["sensors/A/#"] })
        try await publisher.publish(MQTTMessage(topic: "sensors/A/value", text: "0", qos: .atMostOnce))
        try await publisher.publish(MQTTMessage(topic: "sensors/B/value", text: "1", qos: .atLeastOnce))
        try await publisher.publish(MQTTMessage(topic: "sensors/A/value", text: "2", qos: .exactlyOnce))
        let exactSeen = try await exact.value
        let lowSeen = try await low.value
        #expect(exactSeen == ["sensors/A/value 0 qos0", "sensors/B/value 1 qos1", "sensors/A/value 2 qos2"])
        #expect(lowSeen == ["sensors/A/value 0 qos0", "sensors/A/value 2 qos1"])
        for client in [subscriber, second, publisher] { await client.disconnect() }
    }

    @Test("a retained message reaches a later subscriber with retain set; clearing it (empty payload) leaves nothing for the next")
    func retained() async throws {
        let broker = try await Mosquitto()
        defer { broker.stop() }
        let publisher = Self.client(broker.port, "pub")
        try await publisher.connect()
        try await publisher.publish(MQTTMessage(topic: "hubs/h1", text: "online", qos: .atLeastOnce, retain: true))
        let late = Self.client(broker.port, "late")
        try await late.connect()
        var received: MQTTMessage?
        for try await message in late.messages(matching: "hubs/+") {
            received = message
            break
        }
        #expect(received == MQTTMessage(topic: "hubs/h1", text: "online", qos: .atMostOnce, retain: true))
        // Cleared, then a marker published live: the next subscriber sees only the marker.
        try await publisher.publish(MQTTMessage(topic: "hubs/h1", payload: [], qos: .atLeastOnce, retain: true))
        let next = Self.client(broker.port, "next")
        try await next.connect()
        let first = Task { () async throws -> MQTTMessage? in
            for try await message in next.messages(matching: "hubs/+") { return message }
            return nil
        }
        #expect(await eventually { next.engine.grantedFilters == ["hubs/+"] })
        try await publisher.publish(MQTTMessage(topic: "hubs/h2", text: "marker"))
        #expect(try await first.value == MQTTMessage(topic: "hubs/h2", text: "marker"))
        for client in [publisher, late, next] { await client.disconnect() }
    }

    @Test("a client lost without DISCONNECT has its will published and reconnects by itself; one that disconnects has its will discarded (control)")
    func will() async throws {
        let broker = try await Mosquitto()
        defer { broker.stop() }
        let proxy = try FaultProxy(upstreamPort: broker.port)
        defer { proxy.stop() }
        let watcher = Self.client(broker.port, "watcher")
        try await watcher.connect()
        let wills = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in watcher.messages(matching: "wills/#") {
                seen.append("\(message.topic) \(message.text)")
                if message.topic == "wills/end" { break }
            }
            return seen
        }
        #expect(await eventually { watcher.engine.grantedFilters == ["wills/#"] })
        let willing = Self.client(proxy.port, "willing") { $0.will = MQTTMessage(topic: "wills/willing", text: "gone") }
        let polite = Self.client(broker.port, "polite") { $0.will = MQTTMessage(topic: "wills/polite", text: "gone") }
        try await willing.connect()
        try await polite.connect()
        await polite.disconnect()
        await proxy.resetAll()
        // The lost client is back through the proxy.
        #expect(await eventually { proxy.acceptedCount == 2 && willing.currentState == .connected })
        try await willing.publish(MQTTMessage(topic: "wills/end", text: "done", qos: .atLeastOnce))
        #expect(try await wills.value == ["wills/willing gone", "wills/end done"])
        await willing.disconnect()
        await watcher.disconnect()
    }

    @Test("100 connections reset under a publisher: every QoS 1 message is delivered, each call returning once its PUBACK came (after the message was sent again on a new connection when the reset took the first)")
    func hundredDrops() async throws {
        let broker = try await Mosquitto()
        defer { broker.stop() }
        let proxy = try FaultProxy(upstreamPort: broker.port)
        defer { proxy.stop() }
        let subscriber = Self.client(broker.port, "sub")
        try await subscriber.connect()
        let received = Task { () async throws -> Set<String> in
            var seen: Set<String> = []
            for try await message in subscriber.messages(matching: "drops/#", qos: .atLeastOnce) {
                seen.insert(message.text)
                if seen.count == 100 { break }
            }
            return seen
        }
        #expect(await eventually { subscriber.engine.grantedFilters == ["drops/#"] })
        let publisher = Self.client(proxy.port, "pub") {
            $0.reconnectDelay = .milliseconds(5)
            $0.maxReconnectDelay = .milliseconds(20)
        }
        try await publisher.connect()
        for index in 0..<100 {
            let publish = Task { try await publisher.publish(MQTTMessage(topic: "drops/\(index)", text: "\(index)", qos: .atLeastOnce)) }
            await proxy.resetAll()
            try await publish.value
        }
        #expect(try await received.value == Set((0..<100).map(String.init)))
        #expect(proxy.acceptedCount > 1, "connections were reset and reopened")
        await publisher.disconnect()
        await subscriber.disconnect()
    }

    @Test("the broker restarted on its port: the client reconnects, subscribes again and receives; its state went through reconnecting")
    func brokerRestart() async throws {
        var broker = try await Mosquitto()
        defer { broker.stop() }
        let subscriber = Self.client(broker.port, "sub")
        try await subscriber.connect()
        let states = Task { () -> Bool in
            for await phase in subscriber.connectionStates {
                if case .reconnecting = phase { return true }
            }
            return false
        }
        let received = Task { () async throws -> [String] in
            var seen: [String] = []
            for try await message in subscriber.messages(matching: "restart/+") {
                seen.append(message.text)
                if message.text == "after" { break }
            }
            return seen
        }
        #expect(await eventually { subscriber.engine.grantedFilters == ["restart/+"] })
        let port = broker.port
        broker.stop()
        #expect(await states.value)
        broker = try await Mosquitto(port: port)
        // A fresh broker knows no subscription: the client's own SUBSCRIBE makes this arrive.
        #expect(await eventually { subscriber.currentState == .connected && subscriber.engine.grantedFilters == ["restart/+"] })
        let publisher = Self.client(port, "pub")
        try await publisher.connect()
        try await publisher.publish(MQTTMessage(topic: "restart/x", text: "after", qos: .atLeastOnce))
        #expect(try await received.value == ["after"])
        await publisher.disconnect()
        await subscriber.disconnect()
    }
}
