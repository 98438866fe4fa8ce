import Foundation
import SensorHub
import SensorStream
import TCPTransport
import TestSupport
import WebSocketCore

/// The hub alone: one subscriber is a raw WebSocket client on its own thread that reads and
/// discards; readings are published one per call.
enum HubAlone {
    static func throughput(count: Int) async throws -> Double {
        let hub = try Hub(maxBacklog: 256 << 20)
        let agent = hub.attachAgent(name: "bench", sensors: ["S1"])
        let socket = try TCPConnector.connect(host: "127.0.0.1", port: hub.port, timeout: .seconds(5))
        let peer = RawPeer(socket: socket)
        let handshake = ClientHandshake(host: "127.0.0.1", port: hub.port, path: "/")
        try peer.write(handshake.request)
        _ = try peer.readHead()
        var keys = FixedMaskingKeys([WebSocketMaskingKey(1, 2, 3, 4)])
        var subscribe: [UInt8] = []
        for text in [#"{"event":"client_connect","data":""}"#, #"{"event":"subscribe_sensor","data":{"sensor_id":"S1"}}"#] {
            FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: keys.nextKey(), to: &subscribe)
        }
        try peer.write(subscribe)
        while hub.subscriberCount("S1") == 0 { try await Task.sleep(for: .milliseconds(1)) }
        let reader = Task.detached {
            try await onThread { () -> Int in
                var frames = 0
                var pending: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while frames < count {
                    _ = try pollDescriptors([(socket.descriptor, .readable)], timeoutMilliseconds: 5000)
                    let result = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                    guard case .bytes(let n) = result else { continue }
                    pending += buffer[..<n]
                    var position = 0
                    // Unmasked frames with 7-bit lengths: 2-byte header + payload.
                    while pending.count - position >= 2 {
                        let size = 2 + Int(pending[position + 1] & 0x7F)
                        guard pending.count - position >= size else { break }
                        position += size
                        frames += 1
                    }
                    pending.removeFirst(position)
                }
                return frames
            }
        }
        let start = ContinuousClock.now
        for index in 0..<count { agent.publish("S1", ["seq": .number(Double(index)), "t": 21.5]) }
        _ = try await reader.value
        let elapsed = ContinuousClock.now - start
        peer.close()
        await hub.stop()
        return Double(count) / elapsed.secondsValue
    }
}
