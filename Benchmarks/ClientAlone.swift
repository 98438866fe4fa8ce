import Foundation
import SensorStream
import TestSupport
import WebSocketCore

/// The client alone: a raw peer on its own thread plays the server, answers the handshake,
/// waits for the client's `subscribe_sensor`, then writes pre-encoded `new_sensor_data`
/// frames as fast as the socket takes them. No hub, so the row measures the client only.
enum ClientAlone {
    /// `count` unmasked server frames of one sensor's readings.
    static func frames(count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 110)
        for index in 0..<count {
            let text = #"{"event":"new_sensor_data","data":{"sensor_id":"S1","sensor_readings":{"seq":\#(index),"t":21.5,"h":40.2}}}"#
            FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: nil, to: &bytes)
        }
        return bytes
    }

    /// Readings per second into one `for await` loop; checks that all `count` arrived in order.
    static func throughput(_ stream: [UInt8], count: Int) async throws -> Double {
        let raw = try RawServer()
        defer { raw.close() }
        let sender = Task.detached {
            try await onThread { () -> RawPeer in
                let peer = try raw.acceptWebSocket()
                // Wait for the subscription, so that no reading arrives before its consumer.
                var received: [UInt8] = []
                while !(try clientFrames(received)).contains(where: { String(decoding: $0.payload, as: UTF8.self).contains("subscribe_sensor") }) {
                    received += try peer.read(count: received.count + 1, timeout: .seconds(5))
                }
                var offset = 0
                while offset < stream.count {
                    let end = min(stream.count, offset + 256 * 1024)
                    try peer.write(Array(stream[offset..<end]))
                    offset = end
                }
                return peer
            }
        }
        let client = SensorClient(host: "127.0.0.1", port: raw.port,
                                  configuration: .init(heartbeat: .disabled, readingBufferSize: count))
        try await client.connect()
        var start = ContinuousClock.now
        var received = 0
        var inOrder = true
        for await reading in client.readings("S1") {
            if received == 0 { start = .now }
            if reading.readings["seq"]?.intValue != received { inOrder = false }
            received += 1
            if received == count { break }
        }
        let elapsed = ContinuousClock.now - start
        let peer = try await sender.value
        peer.close()
        await client.disconnect()
        precondition(received == count && inOrder, "client alone: \(received) of \(count) readings, in order: \(inOrder)")
        return Double(count - 1) / elapsed.secondsValue
    }
}
