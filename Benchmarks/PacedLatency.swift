import Foundation
import SensorStream
import TestSupport
import WebSocketCore

/// The client alone at a steady rate: a raw peer on its own thread plays the server and
/// writes one `new_sensor_data` frame every `1 / rate` seconds, each stamped with the time it
/// was written (CLOCK_MONOTONIC, so a peer in another process can measure against the same
/// server: see ``peer(executable:count:rate:)``); one `for await` loop reads them. Measures what a reading costs in time from
/// the server's `write` to the app's loop body: the loop thread, the hand-offs, the decode.
enum PacedLatency {
    /// Microseconds from each write to the consumer, sorted; checks that all `count` arrived
    /// in order.
    /// With `onConnectionExecutor` the loop runs on ``SensorClient/connectionExecutor``
    /// (`withTaskExecutorPreference`), otherwise on the cooperative pool.
    static func run(count: Int, rate: Double, onConnectionExecutor: Bool = false) async throws -> [Double] {
        let (server, sender) = try serve(count: count, rate: rate)
        let client = SensorClient(host: "127.0.0.1", port: server.port, configuration: .init(heartbeat: .disabled))
        try await client.connect()
        let (latencies, inOrder) = await withTaskExecutorPreference(onConnectionExecutor ? client.connectionExecutor : nil) {
            await consume(client.readings("S1"), count: count)
        }
        (try? await sender.value)?.close()
        await client.disconnect()
        server.close()
        precondition(latencies.count == count && inOrder, "paced latency: \(latencies.count) of \(count) readings, in order: \(inOrder)")
        return latencies.sorted()
    }

    /// Reads `count` readings; the microseconds each took since its write, and whether they
    /// came in order.
    private static func consume(_ readings: SensorReadings, count: Int) async -> ([Double], Bool) {
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        var inOrder = true
        for await reading in readings {
            let now = monotonicMicroseconds()
            if reading.readings["seq"]?.intValue != latencies.count { inOrder = false }
            latencies.append(now - (reading.readings["sent"]?.doubleValue ?? now))
            if latencies.count == count { break }
        }
        return (latencies, inOrder)
    }

    /// The same server for another client: a peer executable (e.g. SwiftNIO's WebSocket client,
    /// `Benchmarks/NIOPeer`) run as `EXECUTABLE --port P --count N`, which prints
    /// `p50 X p99 Y inorder true`. Returns that line.
    static func peer(executable: String, count: Int, rate: Double) async throws -> String {
        let (server, sender) = try serve(count: count, rate: rate)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--port", String(server.port), "--count", String(count)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = try await onThread { output.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        (try? await sender.value)?.close()
        server.close()
        let line = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        precondition(process.terminationStatus == 0 && line.hasSuffix("inorder true"),
                     "\(executable) exited with \(process.terminationStatus): \(line)")
        return line
    }

    /// Microseconds of CLOCK_MONOTONIC (the same clock in every process of the machine).
    static func monotonicMicroseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) * 1e6 + Double(now.tv_nsec) / 1e3
    }

    /// Listens, and on a thread of its own serves the first client as described above.
    private static func serve(count: Int, rate: Double) throws -> (RawServer, Task<RawPeer, any Error>) {
        let server = try RawServer()
        let interval = Duration.seconds(1 / rate)
        let sender = Task.detached {
            try await onThread { () -> RawPeer in
                let peer = try server.acceptWebSocket()
                var received: [UInt8] = []
                while !(try clientFrames(received)).contains(where: { String(decoding: $0.payload, as: UTF8.self).contains("subscribe_sensor") }) {
                    received += try peer.read(count: received.count + 1, timeout: .seconds(30))
                }
                var next = ContinuousClock.now
                for index in 0..<count {
                    next += interval
                    let wait = next - ContinuousClock.now
                    if wait > .zero { Thread.sleep(forTimeInterval: wait.secondsValue) }
                    let sent = monotonicMicroseconds()
                    let text = #"{"event":"new_sensor_data","data":{"sensor_id":"S1","sensor_readings":{"seq":\#(index),"sent":\#(sent)}}}"#
                    var frame: [UInt8] = []
                    FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: nil, to: &frame)
                    try peer.write(frame)
                }
                return peer
            }
        }
        return (server, sender)
    }
}
