import ConnectionCore
import Foundation
import Locking
import SensorHub
import SensorStream

/// Peak resident memory of this process (VmHWM), in MiB, where /proc tells it.
func peakResidentMiB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return kilobytes / 1024
}

/// Hub -> loopback WebSocket -> SensorClient -> one `for await` consumer.
///
/// Hub and client share this process; the hub gets an event loop of its own, as it would in
/// its own process, so the client's loop thread carries only the client's work.
enum EndToEnd {
    static let hubLoops = EventLoopGroup(loops: [EventLoop(name: "hub I/O")])

    /// Publishes `count` readings of one subscribed sensor as fast as the hub takes them, in
    /// batches of `batch` (what one read of a busy agent's socket brings the hub); returns
    /// readings per second delivered to the consumer.
    static func throughput(count: Int, batch: Int) async throws -> Double {
        let hub = try Hub(maxBacklog: 64 << 20, group: hubLoops)
        let client = SensorClient(host: "127.0.0.1", port: hub.port,
                                  configuration: .init(heartbeat: .disabled, readingBufferSize: count))
        return try await measure(hub: hub, client: client, count: count, batch: batch) { .number(Double($0)) }
    }

    /// Connects `client`, publishes `count` readings made by `reading` on `hub` in batches of
    /// `batch` as fast as the hub takes them, and returns readings per second delivered to one
    /// `for await` consumer. Disconnects and stops both.
    static func measure(hub: Hub, client: SensorClient, count: Int, batch: Int,
                        reading: @escaping @Sendable (Int) -> JSONValue) async throws -> Double {
        let agent = hub.attachAgent(name: "bench", sensors: ["S1"])
        try await client.connect()
        let consumer = Task { () -> Int in
            var received = 0
            for await delivered in client.readings("S1") {
                received += delivered.readings == .null ? 0 : 1
                if received == count { break }
            }
            return received
        }
        while hub.subscriberCount("S1") == 0 { try await Task.sleep(for: .milliseconds(1)) }
        let start = ContinuousClock.now
        var index = 0
        while index < count {
            let end = min(count, index + batch)
            if batch == 1 {
                agent.publish("S1", reading(index))
            } else {
                agent.publish((index..<end).map { (sensorID: "S1", readings: reading($0)) })
            }
            index = end
        }
        let received = await consumer.value
        let elapsed = ContinuousClock.now - start
        await client.disconnect()
        await hub.stop()
        return Double(received) / elapsed.secondsValue
    }

    /// Publishes `count` readings at `rate` per second, each stamped with its send time;
    /// returns the hub-stamp-to-consumer latencies, sorted, in microseconds.
    static func latency(count: Int, rate: Double) async throws -> [Double] {
        let hub = try Hub(group: hubLoops)
        let agent = hub.attachAgent(name: "bench", sensors: ["S1"])
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled))
        try await client.connect()
        let origin = ContinuousClock.now
        let consumer = Task { () -> [Double] in
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            for await reading in client.readings("S1") {
                let now = (ContinuousClock.now - origin).secondsValue * 1e6
                latencies.append(now - (reading.readings.doubleValue ?? now))
                if latencies.count == count { break }
            }
            return latencies
        }
        while hub.subscriberCount("S1") == 0 { try await Task.sleep(for: .milliseconds(1)) }
        // Paced in 1 ms slots (rate / 1000 readings each), sleeping between slots as a real
        // agent would; each reading is stamped when the hub takes it.
        let perSlot = max(1, Int(rate / 1000))
        let clock = ContinuousClock()
        var next = clock.now
        var sent = 0
        while sent < count {
            for _ in 0..<min(perSlot, count - sent) {
                agent.publish("S1", .number((ContinuousClock.now - origin).secondsValue * 1e6))
                sent += 1
            }
            next += .milliseconds(1)
            try await clock.sleep(until: next)
        }
        let latencies = await consumer.value.sorted()
        await client.disconnect()
        await hub.stop()
        return latencies
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
