import ConnectionCore
import Foundation
import Locking
import SensorHub
import SensorWire
import TCPTransport
import TestSupport
import WebSocketCore

/// Hub fan-out with 1 and 2 event loops: the hub runs in a child process (this binary with
/// `--serve-fanout LOOPS`); this process holds raw agents that write pre-encoded, masked
/// `sensor_data` frames as fast as the hub takes them (one thread each) and raw subscribers
/// read by one polling thread that only counts bytes, so the hub's side is what is measured.
/// Readings delivered per second = subscriber bytes / the size of one `new_sensor_data` frame.
enum FanOut {
    /// The child: a hub with `loops` event loops on a free port; prints the port, serves
    /// until its standard input closes.
    static func serve(loops: Int) async throws {
        let hub = try Hub(maxBacklog: 1 << 20, group: .shared(loops: loops))
        FileHandle.standardOutput.write(Data("port \(hub.port)\n".utf8))
        _ = await Task.detached { FileHandle.standardInput.readDataToEndOfFile() }.value
        await hub.stop()
    }

    /// Opens a WebSocket as a raw client: the upgrade, then the socket.
    static func rawWebSocket(port: Int) throws -> RawPeer {
        let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(10)))
        let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try peer.write(Array(request.utf8))
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let byte = try peer.read(count: 1, timeout: .seconds(10))
            guard !byte.isEmpty else { throw RawPeerError(description: "no upgrade answer") }
            head += byte
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else { throw RawPeerError(description: "upgrade refused") }
        return peer
    }

    /// A masked client text frame.
    static func clientFrame(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: WebSocketMaskingKey(1, 2, 3, 4), to: &bytes)
        return bytes
    }

    /// Readings delivered per second to `subscribers` raw subscribers of `agents` agents (one
    /// sensor each; every subscriber subscribes to every sensor), over `window`.
    static func run(loops: Int, agents: Int, subscribers: Int, window: Duration) async throws -> Sample {
        let (child, port, input) = try MetricStoreBench.start(CommandLine.arguments[0], ["--serve-fanout", "\(loops)"])
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        let sensors = (0..<agents).map { "F\($0)" }
        let agentPeers = try await onThread {
            try sensors.map { sensor -> RawPeer in
                let peer = try rawWebSocket(port: port)
                try peer.write(clientFrame(SensorProtocol.encode(AgentMessage.connect(agentID: "agent-\(sensor)", sensors: [sensor]).envelope)))
                return peer
            }
        }
        let subscriberPeers = try await onThread {
            try (0..<subscribers).map { _ -> RawPeer in
                let peer = try rawWebSocket(port: port)
                try peer.write(sensors.flatMap { clientFrame(SensorProtocol.encode(ClientMessage.subscribe(sensorID: $0).envelope)) })
                return peer
            }
        }
        try await Task.sleep(for: .milliseconds(500))

        let running = LockedValue(true)
        let counting = LockedValue(false)
        let received = LockedValue(0)
        let threads = DispatchGroup()
        // Subscribers: one thread polls them all and counts what they receive.
        threads.enter()
        let reader = Thread {
            defer { threads.leave() }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let descriptors = subscriberPeers.map { ($0.socket.descriptor, PollEvents.readable) }
            while running.withLock({ $0 }) {
                guard let ready = try? pollDescriptors(descriptors, timeoutMilliseconds: 50) else { break }
                var bytes = 0
                for (index, events) in ready.enumerated() where !events.isEmpty {
                    // Drain what is there now (non-blocking sockets).
                    while case .bytes(let count)? = try? buffer.withUnsafeMutableBytes({ try subscriberPeers[index].socket.read(into: $0) }) {
                        bytes += count
                    }
                }
                if counting.withLock({ $0 }) { received.withLock { $0 += bytes } }
            }
        }
        reader.start()
        // Agents: a thread each, writing batches of 64 readings as fast as the hub reads them.
        let writers = agentPeers.enumerated().map { index, peer in
            let batch = Array((0..<64).map { _ in clientFrame(SensorProtocol.encode(AgentMessage.data(sensorID: sensors[index], readings: .number(21.5)).envelope)) }.joined())
            threads.enter()
            let thread = Thread {
                defer { threads.leave() }
                while running.withLock({ $0 }) {
                    guard (try? peer.write(batch, timeout: .seconds(5))) != nil else { return }
                }
            }
            thread.start()
            return thread
        }
        _ = writers
        try await Task.sleep(for: .milliseconds(500))
        let hubCPUBefore = cpuSeconds(process: child.processIdentifier)
        let ownCPUBefore = cpuSeconds(process: nil)
        counting.withLock { $0 = true }
        try await Task.sleep(for: window)
        counting.withLock { $0 = false }
        let hubCores = (cpuSeconds(process: child.processIdentifier) - hubCPUBefore) / window.secondsValue
        let ownCores = (cpuSeconds(process: nil) - ownCPUBefore) / window.secondsValue
        running.withLock { $0 = false }
        // Wake writers blocked in a write, wait for every thread, then close: no thread may
        // still use a descriptor the next sample reuses.
        for peer in agentPeers + subscriberPeers { peer.socket.shutdown() }
        await withCheckedContinuation { continuation in threads.notify(queue: .global()) { continuation.resume() } }
        for peer in agentPeers + subscriberPeers { peer.close() }
        var frame: [UInt8] = []
        let text = ServerMessage.sensorData(sensorID: sensors[0], readings: .number(21.5)).encodedText
        FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: nil, to: &frame)
        return Sample(readingsPerSecond: Double(received.withLock { $0 }) / Double(frame.count) / window.secondsValue,
                      hubCores: hubCores, benchmarkCores: ownCores)
    }

    /// One run's result.
    struct Sample {
        /// Readings delivered per second.
        var readingsPerSecond: Double
        /// CPU time the hub process used per second of the window (cores busy).
        var hubCores: Double
        /// The same for this process (the raw agents and subscribers).
        var benchmarkCores: Double
    }

    /// User + system CPU seconds of a process (nil: this one) from /proc; 0 where it is absent.
    static func cpuSeconds(process: Int32?) -> Double {
        let path = process.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8),
              let afterName = stat.range(of: ") ", options: .backwards) else { return 0 }
        // Fields after the command name start at field 3 (state); utime and stime are 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Prints readings delivered per second for both shapes with 1 and 2 loops, alternated.
    static func report(samples: Int) async throws {
        for (agents, subscribers) in [(1, 1000), (100, 100)] {
            var rates: [Int: [Double]] = [1: [], 2: []]
            var cores: [Int: [(hub: Double, benchmark: Double)]] = [1: [], 2: []]
            _ = try await run(loops: 1, agents: agents, subscribers: subscribers, window: .seconds(1))  // warm-up
            for _ in 0..<samples {
                for loops in [1, 2] {
                    let sample = try await run(loops: loops, agents: agents, subscribers: subscribers, window: .seconds(2))
                    rates[loops, default: []].append(sample.readingsPerSecond)
                    cores[loops, default: []].append((sample.hubCores, sample.benchmarkCores))
                }
            }
            for loops in [1, 2] {
                let sorted = (rates[loops] ?? []).sorted()
                print("fan-out: \(agents) agent\(agents == 1 ? "" : "s") -> \(subscribers) subscribers, --loops \(loops)".padding(toLength: 52, withPad: " ", startingAt: 0)
                      + String(format: "%.2f M readings/s delivered [%.2f ... %.2f]", sorted[sorted.count / 2] / 1e6, sorted.first! / 1e6, sorted.last! / 1e6)
                      + (cores[loops] ?? []).map { String(format: "; cores busy: hub %.2f, agents+subscribers %.2f", $0.hub, $0.benchmark) }.joined())
            }
            let one = (rates[1] ?? []).sorted(), two = (rates[2] ?? []).sorted()
            print(String(format: "fan-out: %d -> %d, 2 loops / 1 loop (medians)                  %.2fx", agents, subscribers,
                         two[two.count / 2] / one[one.count / 2]))
        }
    }
}
