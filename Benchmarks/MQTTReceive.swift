import Foundation
import MQTT
import TCPTransport
import TestSupport

/// MQTT QoS 0 receive through Debian's mosquitto: one raw publisher writes `count` messages of
/// about 130 bytes to `bench/readings` as fast as the broker takes them; one subscriber at a
/// time reads them all: our `MQTTClient` in a `for try await` loop, `mosquitto_sub` (C) and
/// `paho-mqtt` (Python). Each subscriber is subscribed (it has seen the retained
/// `bench/ready`) before the publisher starts; the rate is `count` over the time from the
/// publisher's first byte to the subscriber's last message.
enum MQTTReceiveBench {
    /// Who subscribes.
    enum Subscriber: CustomStringConvertible {
        case ours
        case mosquittoSub(String)
        case paho(python: String, script: String)

        var description: String {
            switch self {
            case .ours: "MQTTClient, for-try-await loop"
            case .mosquittoSub: "mosquitto_sub (C)"
            case .paho: "paho-mqtt (Python)"
            }
        }
    }

    /// The publisher's whole conversation: CONNECT, `count` PUBLISH at QoS 0, DISCONNECT.
    static func publisherBytes(count: Int) throws -> [UInt8] {
        var bytes = try MQTTPacket.connect(MQTTConnect(clientID: "bench-publisher", keepAlive: 0)).encoded()
        bytes.reserveCapacity(count * 150)
        for index in 0..<count {
            let text = #"{"sensor_id":"A01-S1","temperature":21.53,"humidity":40.27,"seq":\#(index),"ts":1765050000000,"unit":"celsius","ok":true}"#
            try MQTTPacket.publish(MQTTPublish(topic: "bench/readings", payload: Array(text.utf8))).encode(into: &bytes)
        }
        try MQTTPacket.disconnect.encode(into: &bytes)
        return bytes
    }

    /// Writes `bytes` to the broker on a thread of its own, then waits for the broker to close
    /// after the DISCONNECT (closing first, with its CONNACK unread, would reset the
    /// connection and lose what the broker had not read yet).
    static func publish(_ bytes: [UInt8], port: Int) async throws {
        try await onThread {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
            defer { peer.close() }
            try peer.write(bytes, timeout: .seconds(300))
            _ = try peer.waitForEOF(timeout: .seconds(300))
        }
    }

    /// One run: messages per second, or nil when the subscriber did not get them all in 300 s.
    static func measure(_ subscriber: Subscriber, broker: Mosquitto, publication: [UInt8], count: Int) async throws -> Double? {
        switch subscriber {
        case .ours:
            var configuration = MQTTClient.Configuration()
            configuration.keepAlive = .zero
            let client = MQTTClient(host: "127.0.0.1", port: broker.port, configuration: configuration)
            try await client.connect()
            let (ready, signal) = AsyncStream<Void>.makeStream()
            let loop = Task { () async throws(MQTTClientError) -> ContinuousClock.Instant? in
                var received = 0
                for try await message in client.messages(matching: "bench/#") {
                    if message.topic == "bench/ready" {
                        signal.finish()
                        continue
                    }
                    received += 1
                    if received == count { return .now }
                }
                return nil
            }
            for await _ in ready {}
            let start = ContinuousClock.now
            try await publish(publication, port: broker.port)
            // A subscriber that lost messages would wait for ever: stopped after 60 s more.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(60))
                await client.disconnect()
            }
            let end = try await loop.value
            watchdog.cancel()
            await client.disconnect()
            return end.map { Double(count) / (start.duration(to: $0)).secondsValue }
        case .mosquittoSub(let executable):
            return try await external(executable, ["-h", "127.0.0.1", "-p", String(broker.port), "-t", "bench/#", "-C", String(count + 1), "-F", "x"],
                                      broker: broker, publication: publication, count: count)
        case .paho(let python, let script):
            return try await external(python, [script, String(broker.port), String(count)], broker: broker, publication: publication, count: count)
        }
    }

    /// A subscriber in a process of its own: its first output says it is subscribed; its exit,
    /// that it has every message.
    private static func external(_ executable: String, _ arguments: [String], broker: Mosquitto, publication: [UInt8], count: Int) async throws -> Double? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = output.fileHandleForReading
        let ready = try await onThread { !reader.readData(ofLength: 1).isEmpty }
        guard ready else { return nil }
        let start = ContinuousClock.now
        try await publish(publication, port: broker.port)
        // The rest of its output (a byte or two per message for mosquitto_sub) until it exits;
        // one that lost messages would wait for ever: killed after 60 s more.
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            kill(pid, SIGKILL)
        }
        _ = try await onThread { reader.readDataToEndOfFile() }
        process.waitUntilExit()
        watchdog.cancel()
        let end = ContinuousClock.now
        guard process.terminationStatus == 0 else { return nil }
        return Double(count) / start.duration(to: end).secondsValue
    }

    /// Every subscriber found, `samples` runs each (alternated), medians printed in M messages/s.
    static func report(count: Int, samples: Int) async throws {
        guard Mosquitto.executable != nil else {
            print("mqtt receive: skipped (no mosquitto: apt-get install mosquitto mosquitto-clients)")
            return
        }
        var subscribers: [Subscriber] = [.ours]
        if let sub = ["/usr/bin/mosquitto_sub", "/usr/local/bin/mosquitto_sub"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            subscribers.append(.mosquittoSub(sub))
        } else {
            print("mqtt receive: mosquitto_sub skipped (apt-get install mosquitto-clients)")
        }
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let python = ProcessInfo.processInfo.environment["MQTT_PAHO_PYTHON"]
            ?? here.deletingLastPathComponent().appendingPathComponent(".build-venv-mqtt/bin/python").path
        if FileManager.default.isExecutableFile(atPath: python) {
            subscribers.append(.paho(python: python, script: here.appendingPathComponent("mqtt_paho_sub.py").path))
        } else {
            print("mqtt receive: paho-mqtt skipped (python3 -m venv .build-venv-mqtt && .build-venv-mqtt/bin/pip install paho-mqtt)")
        }
        // No per-client queue limits: every QoS 0 message reaches a subscriber that is behind.
        let broker = try await Mosquitto(settings: ["max_queued_messages 0", "max_queued_bytes 0"])
        defer { broker.stop() }
        // The retained message that tells a subscriber it is subscribed.
        let marker = MQTTClient(host: "127.0.0.1", port: broker.port)
        try await marker.connect()
        try await marker.publish(MQTTMessage(topic: "bench/ready", text: "ready", qos: .atLeastOnce, retain: true))
        await marker.disconnect()
        let publication = try publisherBytes(count: count)
        _ = try await measure(.ours, broker: broker, publication: try publisherBytes(count: count / 10), count: count / 10)  // warm-up
        var rates: [String: [Double]] = [:]
        var incomplete: [String: Int] = [:]
        for _ in 0..<samples {
            for subscriber in subscribers {
                if let rate = try await measure(subscriber, broker: broker, publication: publication, count: count) {
                    rates[subscriber.description, default: []].append(rate)
                } else {
                    incomplete[subscriber.description, default: 0] += 1
                }
            }
        }
        for subscriber in subscribers {
            let sorted = (rates[subscriber.description] ?? []).sorted()
            let label = "mqtt receive: \(count / 1000)k QoS 0 messages of ~130 B via mosquitto -> \(subscriber)"
            guard let median = sorted.isEmpty ? nil : sorted[sorted.count / 2] else {
                print(label + ": no complete run")
                continue
            }
            print(label.padding(toLength: 96, withPad: " ", startingAt: 0)
                  + String(format: "%.3f M msgs/s [%.3f ... %.3f]", median / 1e6, sorted.first! / 1e6, sorted.last! / 1e6)
                  + (incomplete[subscriber.description].map { ", \($0) runs incomplete" } ?? ""))
        }
    }
}
