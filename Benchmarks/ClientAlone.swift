import Foundation
import SensorStream
import TestSupport

/// The client alone: a raw peer on its own thread plays the server (``ReadingFlood``), answers
/// the handshake, waits for the client's `subscribe_sensor`, then writes pre-encoded
/// `new_sensor_data` frames as fast as the socket takes them. No hub, so the row measures the
/// client only.
enum ClientAlone {
    /// Readings per second into one `for await` loop with `buffering`; checks that all `count`
    /// arrived in order.
    static func throughput(count: Int, buffering: ReadingBuffering) async throws -> Double {
        let flood = try ReadingFlood(count: count)
        let client = SensorClient(host: "127.0.0.1", port: flood.port, configuration: .init(heartbeat: .disabled))
        try await client.connect()
        var start = ContinuousClock.now
        var received = 0
        var inOrder = true
        for await reading in client.readings("S1", buffering: buffering) {
            if received == 0 { start = .now }
            if reading.readings["seq"]?.intValue != received { inOrder = false }
            received += 1
            if received == count { break }
        }
        let elapsed = ContinuousClock.now - start
        let dropped = client.statistics.readingsDropped
        _ = try await flood.finished()
        await client.disconnect()
        await flood.close()
        precondition(received == count && inOrder && dropped == 0,
                     "client alone: \(received) of \(count) readings, in order: \(inOrder), dropped \(dropped)")
        return Double(count - 1) / elapsed.secondsValue
    }
}
