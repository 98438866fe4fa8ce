import Testing
import TestSupport
@testable import ConnectionCore

@Suite("Write coalescing: a lone send goes out at once, a long burst is written by the loop", .timeLimit(.minutes(1)))
struct WriteCoalescingTests {
    let origin = ContinuousClock.now

    func at(_ microseconds: Int) -> ContinuousClock.Instant { origin + .microseconds(microseconds) }

    @Test("lone sends and a burst shorter than coalesceAfter are written at once")
    func shortBurstsAreNotDeferred() {
        var coalescing = WriteCoalescing()
        // Ten sends 5 µs apart (50 µs in all), then a lone send 1 ms later.
        let times = (0..<10).map { at($0 * 5) } + [at(1_050)]
        var decisions: [Bool] = []
        for time in times { decisions.append(coalescing.defersSend(at: time)) }
        #expect(decisions == Array(repeating: false, count: 11))
    }

    @Test("a steady stream (sends 50 or 100 µs apart) is never coalesced, however long it lasts")
    func steadyStreamIsNotDeferred() {
        for step in [50, 100, 199] {
            var coalescing = WriteCoalescing()
            var decisions: [Bool] = []
            for index in 0..<100 { decisions.append(coalescing.defersSend(at: at(index * step))) }
            #expect(!decisions.contains(true), "sends \(step) µs apart")
        }
        // Positive control: the same length of time in rapid sends is coalesced.
        var rapid = WriteCoalescing()
        var decisions: [Bool] = []
        for index in 0..<100 { decisions.append(rapid.defersSend(at: at(index * 5))) }
        #expect(decisions.contains(true))
    }

    @Test("a burst is coalesced once it has lasted coalesceAfter; a gap of burstGap ends it")
    func longBurstIsDeferredUntilAGap() {
        var coalescing = WriteCoalescing()
        let step = 10
        let burst = (0...30).map { at($0 * step) }  // 0 ... 300 µs, 10 µs apart
        var decisions: [Bool] = []
        for time in burst { decisions.append(coalescing.defersSend(at: time)) }
        let threshold = Int(WriteCoalescing.coalesceAfter / .microseconds(1))
        #expect(decisions == burst.indices.map { $0 * step >= threshold })
        #expect(decisions.contains(false) && decisions.contains(true), "both kinds of decision happened")
        // A send after a pause shorter than burstGap but longer than rapidGap stays in the
        // burst and is written at once; the rapid one after it waits again.
        let rapid = Int(WriteCoalescing.rapidGap / .microseconds(1))
        let paused = coalescing.defersSend(at: at(300 + rapid + 30))
        let resumed = coalescing.defersSend(at: at(300 + rapid + 30 + 1))
        #expect(!paused && resumed)
        // After a pause of burstGap the next send is a new burst's first: at once.
        let gap = Int(WriteCoalescing.burstGap / .microseconds(1))
        let afterGap = coalescing.defersSend(at: at(400 + gap))
        let next = coalescing.defersSend(at: at(400 + gap + 1))
        #expect(!afterGap && !next)
    }

    @Test("sendSoon in a long burst: the loop writes the tail, every line arrives once, in order")
    func burstArrivesWhole() async throws {
        let loop = EventLoop(name: "coalescing")
        let server = try LineEchoServer(loop: loop, echo: false)
        defer { server.listener.stop() }
        let client = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                    handshake: nil, timeout: .seconds(5), loop: loop)
        #expect(await eventually { server.accepted.withLock { $0.count } == 1 })
        guard let peer = server.accepted.withLock({ $0.first }) else { return }
        let lines = (0..<20_000).map { "line \($0) " + String(repeating: "z", count: $0 % 31) }
        // A tight loop of sends, longer than coalesceAfter, then nothing: whatever the burst
        // left to the loop must still go out, without a further send to push it.
        let start = ContinuousClock.now
        for line in lines { try client.sendSoon(line, refusingAbove: Int.max) }
        #expect(ContinuousClock.now - start > WriteCoalescing.coalesceAfter)
        var received: [String] = []
        received.reserveCapacity(lines.count)
        while received.count < lines.count, let line = await peer.receive() { received.append(line as? String ?? "?") }
        #expect(received.count == lines.count)
        #expect(received == lines, "every line once, in order")
        #expect(client.flushesScheduled > 0, "part of the burst was left to the loop's flush")
        await client.close("bye")
    }

    @Test("sends further apart than rapidGap are written by the sender: no flush left to the loop")
    func spacedSendsAreImmediate() async throws {
        let loop = EventLoop(name: "coalescing-lone")
        let server = try LineEchoServer(loop: loop)
        defer { server.listener.stop() }
        let client = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                    handshake: nil, timeout: .seconds(5), loop: loop)
        for index in 0..<3 {
            try client.sendSoon("ping \(index)")
            #expect(await client.receive() as? String == "ping \(index)")
            // At least this long between sends, whatever the round trip took.
            try await Task.sleep(for: WriteCoalescing.rapidGap * 2)
        }
        #expect(client.flushesScheduled == 0, "no send followed another within rapidGap")
    }
}

@Suite("Connection state, sans-I/O: what a coalesced flush writes, and when sendSoon refuses")
struct CoalescedOutputStateTests {
    let configuration = ConnectionConfiguration(outboundHighWater: 256 * 1024)
    let origin = ContinuousClock.now

    func openState() -> StreamConnectionState {
        StreamConnectionState(codec: LineCodec(), handshake: nil)
    }

    @Test("a burst left to the loop is one chunk per 64 KiB: one send, not one per message")
    func burstIsGathered() throws {
        var state = openState()
        var replan = false
        var scheduled = 0
        // 2,000 lines of 50 bytes, 1 µs apart: past coalesceAfter, every one waits for the loop.
        for index in 0..<2_000 {
            _ = try state.queue(String(repeating: "m", count: 49), configuration: configuration, refuseAbove: nil,
                                onlyWhenPeerBehind: true, replan: &replan)
            let (chunks, schedule) = state.queueForFlush(limit: 16 * 1024 * 1024, now: origin + .microseconds(index))
            if let chunks {
                // Written at once (the burst's first 100 µs): as the socket would take it whole.
                _ = state.finishWriting(remaining: nil, written: chunks.count == 1 ? chunks.first.count : 0, error: nil, spent: nil,
                                        configuration: configuration)
            }
            if schedule { scheduled += 1 }
        }
        #expect(scheduled == 1, "one flush scheduled for the whole burst")
        let shape = state.outboundShape
        #expect(shape.bytes > 64 * 1024 && shape.chunks == (shape.bytes + 64 * 1024 - 1) / (64 * 1024),
                "\(shape.bytes) bytes in \(shape.chunks) chunks")
        let taken = state.takeForScheduledFlush()
        let flushed = try #require(taken)
        #expect(flushed.count == shape.chunks && (64 * 1024 - 50 ... 64 * 1024).contains(flushed.first.count), "\(flushed.first.count)")
    }

    @Test("sendSoon's limit: not held against a peer that takes everything; refused once a write left bytes behind, until the queue drains; always past the high-water mark")
    func refusalFollowsThePeer() throws {
        var state = openState()
        var replan = false
        let line = String(repeating: "r", count: 999)  // 1,000 bytes with its newline
        func queue(limit: Int = 10_000, onlyWhenPeerBehind: Bool = true) -> Bool {
            do {
                _ = try state.queue(line, configuration: configuration, refuseAbove: limit, onlyWhenPeerBehind: onlyWhenPeerBehind, replan: &replan)
                return true
            } catch {
                return false
            }
        }
        // 20,000 bytes wait for this process's writer: over the limit of 10,000, not refused.
        for _ in 0..<20 { #expect(queue()) }
        // Positive control: the plain rule (sendNow's) refuses the same state.
        #expect(!queue(onlyWhenPeerBehind: false))
        // A write the socket takes only partly: the peer is behind, the limit applies.
        let taken = state.takeForWriting()
        let chunks = try #require(taken)
        let remaining = chunks.remaining(from: 0, offset: 5_000)
        _ = state.finishWriting(remaining: remaining, written: 5_000, error: nil, spent: nil, configuration: configuration)
        #expect(!queue(), "refused: the peer did not take what it was given")
        // The loop sees the socket writable and writes everything: the peer caught up.
        let takenRest = state.takeForWriting(socketWritable: true)
        let rest = try #require(takenRest)
        _ = state.finishWriting(remaining: nil, written: rest.first.count, error: nil, spent: nil, configuration: configuration)
        #expect(state.pendingOutputCount == 0)
        #expect(queue(), "accepted again once the queue drained")
        // Past the high-water mark nothing more is queued, peer behind or not.
        while state.pendingOutputCount <= configuration.outboundHighWater { #expect(queue(limit: 1_000)) }
        #expect(!queue(limit: 1_000))
    }
}
