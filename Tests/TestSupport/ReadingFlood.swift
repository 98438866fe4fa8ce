import WebSocketCore

/// A server that is not our hub: a raw peer that answers the WebSocket handshake, waits for
/// the client's `subscribe_sensor`, then writes pre-encoded `new_sensor_data` frames as fast
/// as the socket takes them, on its own thread. Readings carry `seq` 0, 1, 2 ... so the
/// receiver checks order and completeness. For lossless-delivery tests and the client-alone
/// benchmark.
package final class ReadingFlood: Sendable {
    /// The port the client connects to.
    package let port: Int
    private let server: RawServer
    private let sender: Task<RawPeer, any Error>

    /// Starts listening and sending `count` readings of `sensorID` to the first client.
    package init(sensorID: String = "S1", count: Int) throws {
        let stream = Self.frames(sensorID: sensorID, count: count)
        server = try RawServer()
        port = server.port
        let server = server
        sender = Task.detached {
            try await onThread { () -> RawPeer in
                let peer = try server.acceptWebSocket()
                var received: [UInt8] = []
                while !(try clientFrames(received)).contains(where: { String(decoding: $0.payload, as: UTF8.self).contains("subscribe_sensor") }) {
                    received += try peer.read(count: received.count + 1, timeout: .seconds(30))
                }
                var offset = 0
                while offset < stream.count {
                    let end = min(stream.count, offset + 64 * 1024)
                    // As long as the client holds TCP back (a paused consumer on a loaded machine).
                    try peer.write(Array(stream[offset..<end]), timeout: .seconds(120))
                    offset = end
                }
                return peer
            }
        }
    }

    /// Waits until everything was written; returns the peer (still open).
    package func finished() async throws -> RawPeer { try await sender.value }

    /// Closes the listening socket (and the peer, once `finished()` returned it).
    package func close() async {
        server.close()
        (try? await sender.value)?.close()
    }

    /// `count` unmasked server frames of one sensor's readings.
    package static func frames(sensorID: String = "S1", count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 110)
        for index in 0..<count {
            let text = #"{"event":"new_sensor_data","data":{"sensor_id":"\#(sensorID)","sensor_readings":{"seq":\#(index),"t":21.5,"h":40.2}}}"#
            FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: nil, to: &bytes)
        }
        return bytes
    }
}
