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
        // After a pause of burstGap the next send is a new burst's first: at once.
        let gap = Int(WriteCoalescing.burstGap / .microseconds(1))
        let afterGap = coalescing.defersSend(at: at(300 + gap))
        let next = coalescing.defersSend(at: at(300 + gap + step))
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

    @Test("a lone sendSoon is written by the sender: no flush left to the loop")
    func loneSendIsImmediate() async throws {
        let loop = EventLoop(name: "coalescing-lone")
        let server = try LineEchoServer(loop: loop)
        defer { server.listener.stop() }
        let client = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                    handshake: nil, timeout: .seconds(5), loop: loop)
        for index in 0..<3 {
            try client.sendSoon("ping \(index)")
            #expect(await client.receive() as? String == "ping \(index)")
        }
        #expect(client.flushesScheduled == 0, "each send, after the echo's round trip, started a new burst")
    }
}
