import Foundation
import MetricStore
import Testing
import TestSupport

/// A client that asks for much and never reads: the server produces its answers in pieces as
/// the socket drains, stops reading it while its output is past the limit, and serves the
/// others meanwhile.
@Suite("MetricStore under a flood: pieces, write backpressure, fairness", .timeLimit(.minutes(4)))
struct MetricStoreFloodTests {
    /// `keys` keys `k0000`..., `pointsPerKey` points each (timestamps 1...), as pipelined puts
    /// and as the exact bytes of the `get *` answer they make.
    struct Store {
        let puts: [UInt8]
        let putCount: Int
        let answer: [UInt8]

        init(keys: Int, pointsPerKey: Int) {
            var puts = ""
            var answer = "ok\n"
            func value(_ key: Int, _ timestamp: Int) -> Double { Double((key * 31 + timestamp * 7) % 4000) / 4 }
            for timestamp in 1...pointsPerKey {
                for key in 0..<keys { puts += "put k\(key) \(value(key, timestamp)) \(timestamp)\n" }
            }
            for key in 0..<keys {
                for timestamp in 1...pointsPerKey { answer += "k\(key) \(value(key, timestamp).description) \(timestamp)\n" }
            }
            self.puts = Array(puts.utf8)
            self.putCount = keys * pointsPerKey
            self.answer = Array((answer + "\n").utf8)
        }

        /// Stores every point through the protocol: writes on a thread of its own while this
        /// one reads the `ok`s, so neither side waits for the other's buffers.
        func fill(port: Int) throws {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
            defer { peer.close() }
            let expected = Array(String(repeating: "ok\n\n", count: putCount).utf8)
            let written = DispatchSemaphore(value: 0)
            let writer = Thread { [puts] in
                try? peer.write(puts, timeout: .seconds(60))
                written.signal()
            }
            writer.start()
            let answers = try peer.read(count: expected.count, timeout: .seconds(60))
            written.wait()
            guard answers.elementsEqual(expected) else {
                throw RawPeerError(description: "the puts were not all answered ok (\(answers.count) bytes)")
            }
        }
    }

    /// A peer whose socket receives at most about 4 KiB before the sender must wait.
    static func slowReader(port: Int) throws -> RawPeer {
        RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5), receiveBuffer: 4096))
    }

    @Test("a get answer produced in pieces is the whole answer, for every piece size, with puts between pieces")
    func piecesMakeTheWholeAnswer() {
        var storage = MetricStorage()
        for timestamp in [5, 1, 3] { for key in ["a", "b", "c"] { storage.put(key, Double(timestamp), timestamp: Int64(timestamp)) } }
        let whole = MetricAnswer.ok(storage.get("*"))
        var wholeBytes: [UInt8] = []
        whole.append(to: &wholeBytes)
        for limit in 1...10 {
            for key in ["*", "b", "missing"] {
                var bytes = Array("ok\n".utf8)
                var cursor = MetricGetCursor()
                var pieces = 0
                while true {
                    let piece = storage.appendRecords(of: key, after: cursor, limit: limit, to: &bytes)
                    pieces += 1
                    #expect(piece.count <= limit)
                    guard let next = piece.next else { break }
                    cursor = next
                }
                bytes.append(UInt8(ascii: "\n"))
                var expected: [UInt8] = []
                MetricAnswer.ok(storage.get(key)).append(to: &expected)
                let same = bytes == expected
                #expect(same, "key \(key), limit \(limit)")
                if key == "*" { #expect(pieces >= 9 / limit) }
            }
        }
        // Long keys: a piece stops at its byte budget, whatever the record count.
        var long = MetricStorage()
        let key = String(repeating: "k", count: 1000)
        for timestamp in 1...50 { long.put(key, 1, timestamp: Int64(timestamp)) }
        var longBytes: [UInt8] = []
        let firstPiece = long.appendRecords(of: "*", after: MetricGetCursor(), limit: 1024, byteLimit: 4096, to: &longBytes)
        #expect(firstPiece.count == 5 && firstPiece.next != nil, "\(firstPiece.count) records of 1,000-byte lines in a 4 KiB piece")
        #expect(longBytes.count < 4096 + 1100)

        // Between pieces the store changes: a point before the cursor is not listed, one after
        // it is, every point stored at the start is listed once.
        var bytes: [UInt8] = []
        let first = storage.appendRecords(of: "*", after: MetricGetCursor(), limit: 4, to: &bytes)  // a 1,3,5; b 1
        storage.put("a", 99, timestamp: 2)   // before the cursor: not listed
        storage.put("b", 42, timestamp: 4)   // after it: listed
        storage.put("d", 7, timestamp: 1)    // a new key: listed last
        guard let next = first.next else {
            Issue.record("the first piece of 9 records with limit 4 was the whole answer")
            return
        }
        _ = storage.appendRecords(of: "*", after: next, limit: 100, to: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == "a 1.0 1\na 3.0 3\na 5.0 5\nb 1.0 1\nb 3.0 3\nb 42.0 4\nb 5.0 5\nc 1.0 1\nc 3.0 3\nc 5.0 5\nd 7.0 1\n")
    }

    @Test("2,000 pipelined `get *` over 100,000 points from a client that never reads: it is paused, not dropped, memory stays bounded, another client's round trips are answered at once, and the flooder gets its answers in order when it reads")
    func floodOfLargeGets() async throws {
        let outputLimit = 1 << 20
        let server = try MetricStoreServer(port: 0, configuration: .init(outputLimit: outputLimit))
        defer { server.stop() }
        let store = Store(keys: 5000, pointsPerKey: 20)
        try await onThread { try store.fill(port: server.port) }
        #expect(server.pointCount == 100_000)

        let flooder = try Self.slowReader(port: server.port)
        defer { flooder.close() }
        try flooder.write(Array(String(repeating: "get *\n", count: 2000).utf8))

        // The server answers until the output limit, then stops reading the flooder.
        let paused = await eventually(timeout: .seconds(90)) {  // the safety net; producing megabytes under TSan beside other suites is slow
            server.connectionBuffers.contains { $0.readingPausedForOutput }
        }
        #expect(paused, "the flooder's reading never paused for its output")

        // Meanwhile another client is served at once, ten times over, and the flooder's
        // buffers stay within the limit plus what one send and one piece add.
        // The limit, one send's worth, and one piece (itself at most a send plus a line).
        let bound = outputLimit + 2 * MetricStoreServer.bytesPerSend + 256
        let prober = try MetricPeer(port: server.port)
        defer { prober.peer.close() }
        for round in 1...10 {
            let put = try await onThread { try prober.exchange("put probe \(round) \(round)\n", expecting: "ok\n\n") }
            #expect(put == "ok\n\n")
            var expected = "ok\n"
            for earlier in 1...round { expected += "probe \(Double(earlier).description) \(earlier)\n" }
            expected += "\n"
            let get = try await onThread { [expected] in try prober.exchange("get probe\n", expecting: expected) }
            #expect(get == expected)
            // Causal, not a stopwatch: behind the flood it would be answered only after the
            // flooder's answers drained; the flooder is still paused, unread, when it is.
            #expect(server.connectionBuffers.contains { $0.readingPausedForOutput }, "answered while the flood still waits")
            for buffers in server.connectionBuffers {
                #expect(buffers.pendingOutput <= bound, "\(buffers.pendingOutput) bytes wait for a client, bound \(bound)")
            }
        }
        // Still paused: the flooder was never read past its limit, and never dropped.
        #expect(server.connectionBuffers.contains { $0.readingPausedForOutput && $0.pendingOutput > outputLimit / 2 })
        #expect(server.connectionCount == 2)

        // Once it reads, its answers come whole and in order: each one produced before the
        // probes is the store as filled, each one produced (or finished) after them lists the
        // probe key last, with its ten points.
        var probeLines = ""
        for round in 1...10 { probeLines += "probe \(Double(round).description) \(round)\n" }
        let withProbes = Array(store.answer.dropLast()) + Array(probeLines.utf8) + [UInt8(ascii: "\n")]
        let received = try await onThread { try flooder.read(count: withProbes.count * 3, timeout: .seconds(60)) }
        var offset = 0
        for index in 1...3 {
            let rest = received.dropFirst(offset)
            if rest.starts(with: store.answer) {
                offset += store.answer.count
            } else if rest.starts(with: withProbes) {
                offset += withProbes.count
            } else {
                Issue.record("answer \(index) of the flood is neither the filled store nor the store with the probes")
                break
            }
        }
    }

    @Test("a flood a reader can finish: every one of 300 pipelined `get *` arrives whole and in order through a 4 KiB receive buffer")
    func everyAnswerOnceItReads() async throws {
        let outputLimit = 256 << 10
        let server = try MetricStoreServer(port: 0, configuration: .init(outputLimit: outputLimit))
        defer { server.stop() }
        let store = Store(keys: 100, pointsPerKey: 10)
        try await onThread { try store.fill(port: server.port) }
        let flooder = try Self.slowReader(port: server.port)
        defer { flooder.close() }
        let count = 300
        try flooder.write(Array(String(repeating: "get *\n", count: count).utf8))
        let paused = await eventually(timeout: .seconds(90)) {  // the safety net; producing megabytes under TSan beside other suites is slow
            server.connectionBuffers.contains { $0.readingPausedForOutput }
        }
        #expect(paused, "\(count) answers of \(store.answer.count) bytes never paused a reader of 4 KiB")
        let received = try await onThread { try flooder.read(count: store.answer.count * count, timeout: .seconds(90)) }
        #expect(received.count == store.answer.count * count)
        var mismatches = 0
        for index in 0..<count where !received.dropFirst(index * store.answer.count).prefix(store.answer.count).elementsEqual(store.answer) {
            mismatches += 1
        }
        #expect(mismatches == 0)
        // Answered everything: reading resumed.
        let resumed = await eventually(timeout: .seconds(10)) { server.connectionBuffers.allSatisfy { !$0.readingPaused } }
        #expect(resumed)
    }
}

