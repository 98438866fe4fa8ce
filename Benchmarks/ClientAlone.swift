import Foundation
import SensorStream
import TestSupport

/// The client alone: a raw peer on its own thread plays the server (``ReadingFlood``), answers
/// the handshake, waits for the client's `subscribe_sensor`, then writes pre-encoded
/// `new_sensor_data` frames as fast as the socket takes them. No hub, so the row measures the
/// client only.
enum ClientAlone {
    /// Readings per second into one `for await` loop with `buffering`, and the process's CPU
    /// time per reading meanwhile (every thread: the sender's too); checks that all `count`
    /// arrived in order.
    static func throughput(count: Int, buffering: ReadingBuffering) async throws -> (rate: Double, cpuPerReading: Duration) {
        let flood = try ReadingFlood(count: count)
        let client = SensorClient(host: "127.0.0.1", port: flood.port, configuration: .init(heartbeat: .disabled))
        try await client.connect()
        var start = ContinuousClock.now
        var cpuAtStart = 0.0
        var received = 0
        var inOrder = true
        for await reading in client.readings("S1", buffering: buffering) {
            if received == 0 {
                start = .now
                cpuAtStart = processCPUSeconds()
            }
            if reading.readings["seq"]?.intValue != received { inOrder = false }
            received += 1
            if received == count { break }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = processCPUSeconds() - cpuAtStart
        let dropped = client.statistics.readingsDropped
        _ = try await flood.finished()
        await client.disconnect()
        await flood.close()
        precondition(received == count && inOrder && dropped == 0,
                     "client alone: \(received) of \(count) readings, in order: \(inOrder), dropped \(dropped)")
        return (Double(count - 1) / elapsed.secondsValue, .seconds(cpu / Double(count - 1)))
    }

    /// User + system CPU time of this process, every thread (getrusage: microseconds, where
    /// /proc's clock ticks are 10 ms, too coarse for a 0.2 s window).
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        let who = RUSAGE_SELF.rawValue
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
