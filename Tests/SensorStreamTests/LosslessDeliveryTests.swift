import Locking
import SensorWire
import Testing
import TestSupport
import WebSocketCore
@testable import SensorHub
@testable import SensorStream

/// `.lossless` streams on real sockets: a server that writes as fast as TCP lets it (not our
/// hub, which has its own backpressure), a consumer that stops taking readings.
@Suite("Lossless delivery by backpressure", .timeLimit(.minutes(2)))
struct LosslessDeliveryTests {
    static func seq(_ reading: SensorReading) -> Int { reading.readings["seq"]?.intValue ?? -1 }

    @Test("a flood into a stalled lossless consumer: reading pauses, memory stays bounded, nothing is lost")
    func floodIntoStalledConsumer() async throws {
        let count = 200_000
        let flood = try ReadingFlood(count: count)
        let client = SensorClient(host: "127.0.0.1", port: flood.port, configuration: testConfiguration())
        try await client.connect()
        var readings = client.readings("S1", buffering: .lossless(256)).makeAsyncIterator()
        #expect(await readings.next().map(Self.seq) == 0)
        // The loop stops taking readings here. (The pause and the count of the receive loop's
        // waits are set by two threads: wait for both.)
        #expect(await eventually { client.engine.connectionBacklog?.readingPaused == true }, "the connection paused reading the socket")
        #expect(await eventually { client.statistics.losslessWaits >= 1 }, "the receive loop waited for the lossless consumer")
        let backlog = try #require(client.engine.connectionBacklog)
        #expect(backlog.inboxBytes <= 4 << 20 + 256 * 1024, "the inbox stays near its 4 MiB limit: \(backlog.inboxBytes)")
        // (Whether the sender is blocked yet depends on the kernel's socket buffers, which
        // autotune up to tcp_rmem's maximum, 32 MB here: not asserted.)
        var statistics = client.statistics
        #expect(statistics.losslessWaits >= 1 && statistics.readingsDropped == 0)

        var next = 1
        var inOrder = true
        while next < count, let reading = await readings.next() {
            if Self.seq(reading) != next { inOrder = false }
            next += 1
        }
        #expect(next == count && inOrder, "every reading, in order: \(next) of \(count)")
        statistics = client.statistics
        #expect(statistics.readingsDropped == 0 && statistics.readingsReceived == count)
        #expect(statistics.readingsWithoutConsumer == 0)
        _ = try await flood.finished()
        await client.disconnect()
        await flood.close()
    }

    @Test("the heartbeat does not call a paused connection dead; once reading resumes, an unanswered ping still does")
    func heartbeatWhilePaused() async throws {
        let flood = try ReadingFlood(count: 200_000)
        let clock = ManualClock()
        let client = SensorClient(host: "127.0.0.1", port: flood.port,
                                  configuration: testConfiguration(heartbeat: .init(interval: .seconds(1), timeout: .seconds(1))),
                                  clock: clock)
        try await client.connect()
        var readings = client.readings("S1", buffering: .lossless(256)).makeAsyncIterator()
        #expect(await readings.next().map(Self.seq) == 0)
        #expect(await eventually { client.engine.connectionBacklog?.readingPaused == true })
        // The raw server never answers pings. While reading is paused, timeouts do not count.
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(1))  // the probe goes out
        for _ in 0..<3 {
            #expect(await clock.waitForSleepers(1))
            clock.advance(by: .seconds(1))  // a timeout while paused
        }
        #expect(await clock.waitForSleepers(1), "the probe still waits")
        #expect(client.currentState == .connected, "not declared dead while paused")

        // Positive control: drain everything; reading resumes, the ping stays unanswered.
        var taken = 1
        while taken < 200_000, await readings.next() != nil { taken += 1 }
        #expect(taken == 200_000)
        _ = try await flood.finished()
        #expect(await eventually { client.engine.connectionBacklog?.readingPaused == false })
        // Each step waits for what the client does next (a liveness sleep on the clock, or the
        // verdict), never for a stretch of real time.
        let isReconnecting: @Sendable () -> Bool = { if case .reconnecting = client.currentState { true } else { false } }
        var lost = false
        for _ in 0..<4 where !lost {
            #expect(await eventually { isReconnecting() || clock.sleeperCount >= 1 })
            lost = isReconnecting()
            if !lost { clock.advance(by: .seconds(1)) }
        }
        if !lost { lost = await eventually { isReconnecting() } }
        #expect(lost, "a connection that really does not answer is still found dead")
        await client.disconnect()
        await flood.close()
    }

    @Test("readings one write at a time into a stalled lossless consumer: the loop thread hands what the full queue cannot take to the reader task, which waits for room; all of them arrive, in order")
    func smallBatchesIntoStalledConsumer() async throws {
        let server = try RawServer()
        defer { server.close() }
        let count = 50
        let frames = (0..<count).map { index in
            var frame: [UInt8] = []
            let text = #"{"event":"new_sensor_data","data":{"sensor_id":"S1","sensor_readings":{"seq":\#(index)}}}"#
            FrameEncoder.append(opcode: .text, payload: Array(text.utf8), maskingKey: nil, to: &frame)
            return frame
        }
        let peer = Task.detached {
            try await onThread { () -> RawPeer in
                let peer = try server.acceptWebSocket()
                var received: [UInt8] = []
                while !(try clientFrames(received)).contains(where: { String(decoding: $0.payload, as: UTF8.self).contains("subscribe_sensor") }) {
                    received += try peer.read(count: received.count + 1, timeout: .seconds(30))
                }
                return peer
            }
        }
        let client = SensorClient(host: "127.0.0.1", port: server.port, configuration: testConfiguration())
        try await client.connect()
        var readings = client.readings("S1", buffering: .lossless(4)).makeAsyncIterator()
        let writer = try await peer.value
        defer { writer.close() }
        try writer.write(frames[0])
        #expect(await readings.next().map(Self.seq) == 0)
        // The consumer stalls now. One frame per write, the first ones each received before
        // the next is written: small reads, which the loop thread delivers itself until the
        // queue (4) is full.
        for (index, frame) in frames.enumerated().dropFirst() {
            try writer.write(frame)
            if index <= 4 { #expect(await eventually { client.statistics.readingsReceived == index + 1 }) }
        }
        #expect(await eventually { client.engine.producerIsWaiting("S1") }, "the reading task waits for room")
        #expect(client.statistics.losslessWaits == 1, "one stall, counted once")
        var seqs: [Int] = []
        while seqs.count < count - 1, let reading = await readings.next() { seqs.append(Self.seq(reading)) }
        #expect(seqs == Array(1..<count), "every reading after the first, in order")
        #expect(client.statistics.readingsDropped == 0)
        await client.disconnect()
    }

    @Test("cancelling the stalled consumer, unsubscribing or disconnecting releases the paused receive path at once")
    func releases() async throws {
        for release in ["cancel", "unsubscribe", "disconnect"] {
            let flood = try ReadingFlood(count: 200_000)
            let client = SensorClient(host: "127.0.0.1", port: flood.port, configuration: testConfiguration())
            try await client.connect()
            let gate = LockedValue(false)
            let consumer = Task {
                var count = 0
                for await _ in client.readings("S1", buffering: .lossless(64)) {
                    count += 1
                    if count == 1 { gate.withLock { $0 = true } }
                    while count == 1 && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }  // stalls
                }
                return count
            }
            #expect(await eventually { gate.withLock { $0 } })
            #expect(await eventually { client.engine.connectionBacklog?.readingPaused == true }, "\(release): positive control, paused")
            let pausedEpoch = client.engine.readingPauseEpoch ?? 0
            // "Resumed" is seen as the pause's end (its epoch moved on), not as a moment without a
            // pause: on a loaded machine a slow reader task can fill the inbox and pause it again.
            let resumed: @Sendable () -> Bool = { (client.engine.readingPauseEpoch ?? 0) > pausedEpoch }
            switch release {
            case "cancel":
                consumer.cancel()  // the loop leaves its stall and asks for the next reading: the stream ends
                #expect(await consumer.value == 1, "a cancelled loop gets no more readings")
                #expect(await eventually { resumed() }, "reading resumes")
                #expect(await eventually { client.statistics.readingsWithoutConsumer > 0 }, "the rest is counted, not lost silently")
                _ = try await flood.finished()
                await client.disconnect()
            case "unsubscribe":
                try await client.unsubscribe("S1")  // the consumer is still stuck in its loop body
                #expect(await eventually { resumed() }, "reading resumes at once")
                #expect(await eventually { client.statistics.readingsWithoutConsumer > 0 })
                await client.disconnect()
                consumer.cancel()
                _ = await consumer.value
            default:
                await client.disconnect()  // returns: the paused receive path does not hold it
                #expect(await eventually { client.engine.connectionBacklog == nil }, "the connection is gone")
                consumer.cancel()
                _ = await consumer.value
            }
            await flood.close()
        }
    }
}
