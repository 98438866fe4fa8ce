import Foundation
import MetricStore
import Testing
import TestSupport

/// A raw TCP peer of the metric server: writes bytes, reads exactly the answers expected.
struct MetricPeer {
    let peer: RawPeer

    init(port: Int) throws {
        peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
    }

    /// Writes `text`, then reads exactly `expected.utf8.count` bytes and returns them as text.
    func exchange(_ text: String, expecting expected: String) throws -> String {
        try peer.write(Array(text.utf8))
        return String(decoding: try peer.read(count: expected.utf8.count, timeout: .seconds(10)), as: UTF8.self)
    }
}

@Suite("MetricStore server and client on loopback", .timeLimit(.minutes(1)))
struct MetricStoreLoopbackTests {
    // The raw peers block their thread: they run on threads of their own (onThread), never on
    // the cooperative pool the server's tasks need.

    @Test("the documented telnet transcript, byte for byte")
    func transcript() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        try await onThread { try Self.transcript(port: server.port) }
    }

    static func transcript(port: Int) throws {
        let peer = try MetricPeer(port: port)
        let exchange: [(String, String)] = [
            ("get test_key\r\n", "ok\n\n"),
            ("got test_key\r\n", "error\nwrong command\n\n"),
            ("put test_key 12.0 1503319740\r\n", "ok\n\n"),
            ("put test_key 13.0 1503319739\r\n", "ok\n\n"),
            ("get test_key\r\n", "ok\ntest_key 13.0 1503319739\ntest_key 12.0 1503319740\n\n"),
            ("put another_key 10 1503319739\r\n", "ok\n\n"),
            ("get *\r\n", "ok\ntest_key 13.0 1503319739\ntest_key 12.0 1503319740\nanother_key 10.0 1503319739\n\n"),
        ]
        for (command, expected) in exchange {
            #expect(try peer.exchange(command, expecting: expected) == expected, "\(command.debugDescription)")
        }
        peer.peer.close()
    }

    @Test("commands split at every byte boundary, and pipelined in one write, are answered in order")
    func splitAndPipelined() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        try await onThread { try Self.splitAndPipelined(server: server) }
        #expect(server.pointCount == 1000 + 2)
    }

    static func splitAndPipelined(server: MetricStoreServer) throws {
        let stream = "put a 1 1\nget a\nnope\nput b 2.5 3\r\nget *\n"
        let answers = "ok\n\nok\na 1.0 1\n\nerror\nwrong command\n\nok\n\nok\na 1.0 1\nb 2.5 3\n\n"
        let bytes = Array(stream.utf8)
        for cut in stride(from: 0, through: bytes.count, by: 1) {
            let peer = try MetricPeer(port: server.port)
            try peer.peer.write(Array(bytes[..<cut]))
            try peer.peer.write(Array(bytes[cut...]))
            #expect(String(decoding: try peer.peer.read(count: answers.utf8.count, timeout: .seconds(10)), as: UTF8.self) == answers, "cut at \(cut)")
            peer.peer.close()
        }
        // 2,000 commands in one write.
        let peer = try MetricPeer(port: server.port)
        let burst = (0..<1000).map { "put burst \($0) \($0)\n" }.joined() + (0..<1000).map { _ in "get nothing\n" }.joined()
        let expected = String(repeating: "ok\n\n", count: 2000)
        #expect(try peer.exchange(burst, expecting: expected) == expected)
        peer.peer.close()
    }

    @Test("a line over 65,536 bytes gets wrong command and the connection is closed; others are unaffected")
    func lineLimit() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        try await onThread { try Self.lineLimit(port: server.port) }
    }

    static func lineLimit(port: Int) throws {
        let other = try MetricPeer(port: port)
        let peer = try MetricPeer(port: port)
        try peer.peer.write(Array("get ".utf8) + [UInt8](repeating: UInt8(ascii: "k"), count: 70_000))
        #expect(String(decoding: try peer.peer.read(count: 100, timeout: .seconds(10)), as: UTF8.self) == "error\nwrong command\n\n",
                "the answer, then EOF")
        #expect(try peer.peer.waitForEOF(timeout: .seconds(10)))
        #expect(try other.exchange("put k 1 1\n", expecting: "ok\n\n") == "ok\n\n", "another client is served")
        other.peer.close()
    }

    @Test("the client: the classic example, same-second overwrite, an empty get, local validation")
    func clientExample() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        try await client.put("palm.cpu", 0.5, timestamp: 1150864247)
        try await client.put("palm.cpu", 2.0, timestamp: 1150864248)
        try await client.put("palm.cpu", 0.5, timestamp: 1150864248)
        try await client.put("eardrum.cpu", 3, timestamp: 1150864250)
        try await client.put("eardrum.cpu", 4, timestamp: 1150864251)
        try await client.put("eardrum.memory", 4200000, timestamp: 1503320872)
        let all = try await client.get("*")
        #expect(all == [
            "palm.cpu": [MetricPoint(timestamp: 1150864247, value: 0.5), MetricPoint(timestamp: 1150864248, value: 0.5)],
            "eardrum.cpu": [MetricPoint(timestamp: 1150864250, value: 3), MetricPoint(timestamp: 1150864251, value: 4)],
            "eardrum.memory": [MetricPoint(timestamp: 1503320872, value: 4200000)],
        ])
        #expect(try await client.get("non_existing_key") == [:])
        await #expect(throws: MetricStoreClientError.invalidKey("a b")) { try await client.put("a b", 1) }
        await #expect(throws: MetricStoreClientError.invalidKey("*")) { try await client.put("*", 1) }
        await #expect(throws: MetricStoreClientError.invalidValue(.infinity)) { try await client.put("k", .infinity) }
        #expect(server.pointCount == 5, "nothing invalid reached the server")
        client.close()
    }

    @Test("range reads: the raw protocol and the client, at the edges (empty, one point, from after to, unknown key)")
    func rangeReads() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        defer { client.close() }
        for second in 100...160 { try await client.put("cpu", Double(second) / 10, timestamp: second) }
        try await client.put("mem", 1, timestamp: 130)
        let minute = try await client.get("cpu", from: 110, to: 119)
        #expect(minute["cpu"]?.map(\.timestamp) == Array(110...119))
        #expect(minute["cpu"]?.first?.value == 11.0)
        #expect(try await client.get("cpu", from: 160, to: 10_000) == ["cpu": [MetricPoint(timestamp: 160, value: 16)]], "one point")
        #expect(try await client.get("cpu", from: 0, to: 99) == [:], "empty: before the first point")
        #expect(try await client.get("nothing", from: 0, to: 1_000) == [:], "unknown key")
        #expect(try await client.get("*", from: 130, to: 130) == ["cpu": [MetricPoint(timestamp: 130, value: 13)],
                                                                "mem": [MetricPoint(timestamp: 130, value: 1)]])
        await #expect(throws: MetricStoreClientError.invalidRange(from: 5, to: 4)) { _ = try await client.get("cpu", from: 5, to: 4) }
        await #expect(throws: MetricStoreClientError.invalidKey("a b")) { _ = try await client.get("a b", from: 1, to: 2) }
        // The same on the wire, byte for byte; from after to is an empty answer there.
        try await onThread {
            let peer = try MetricPeer(port: server.port)
            for (command, expected) in [("get cpu 158 9999\r\n", "ok\ncpu 15.8 158\ncpu 15.9 159\ncpu 16.0 160\n\n"),
                                        ("get cpu 5 4\n", "ok\n\n"), ("get cpu 1\n", "error\nwrong command\n\n"),
                                        ("get * 130 130\n", "ok\ncpu 13.0 130\nmem 1.0 130\n\n")] {
                #expect(try peer.exchange(command, expecting: expected) == expected, "\(command.debugDescription)")
            }
            peer.peer.close()
        }
    }

    @Test("a server without range reads answers wrong command: the client says so; its plain get still works")
    func rangeReadsUnsupported() async throws {
        // A server from before range reads: `get <key>` answered, anything else wrong command.
        let old = try RawServer()
        let serving = Task.detached {
            try await onThread {
                let peer = try old.accept()
                var pending: [UInt8] = []
                while true {
                    pending += try peer.read(count: 1, timeout: .seconds(30))
                    guard pending.last == UInt8(ascii: "\n") else { continue }
                    let line = String(decoding: pending.dropLast(), as: UTF8.self)
                    pending = []
                    let fields = line.split(separator: " ")
                    try peer.write(Array((fields.count == 2 && fields[0] == "get" ? "ok\n\n" : "error\nwrong command\n\n").utf8))
                }
            }
        }
        defer {
            serving.cancel()
            old.close()
        }
        let client = MetricStoreClient(host: "127.0.0.1", port: old.port, timeout: .seconds(15))
        defer { client.close() }
        #expect(try await client.get("cpu") == [:], "control: the old server answers a plain get")
        await #expect(throws: MetricStoreClientError.unsupportedByServer("range reads (get <key> <from> <to>)")) {
            _ = try await client.get("cpu", from: 1, to: 2)
        }
        #expect(try await client.get("cpu") == [:], "the connection goes on")
    }

    @Test("keys are checked locally before anything is sent", arguments: ["a b", "a\tb", "a\nb", "a\u{0}b", "a\u{A0}b", "a\u{2003}b", "", " "])
    func invalidKeys(key: String) async {
        // Port 1: nothing listens; a key that got past the check would fail with connectionFailed.
        let client = MetricStoreClient(host: "127.0.0.1", port: 1, timeout: .seconds(5))
        await #expect(throws: MetricStoreClientError.invalidKey(key)) { try await client.put(key, 1, timestamp: 1) }
        await #expect(throws: MetricStoreClientError.invalidKey(key)) { _ = try await client.get(key) }
        // Control: a valid key does reach the network (and fails there, with connectionFailed).
        await #expect {
            try await client.put("é.ok", 1, timestamp: 1)
        } throws: { error in
            if case MetricStoreClientError.connectionFailed = error { true } else { false }
        }
        client.close()
    }

    @Test("concurrent calls share one connection, pipelined, each gets its own answer")
    func concurrentCalls() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try await client.put("key\(index % 10)", Double(index), timestamp: index) }
            }
            try await group.waitForAll()
        }
        let results = try await withThrowingTaskGroup(of: (Int, [String: [MetricPoint]]).self) { group in
            for index in 0..<10 { group.addTask { (index, try await client.get("key\(index)")) } }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for index in 0..<10 {
            #expect(results[index]?["key\(index)"]?.map(\.timestamp) == Array(stride(from: index, to: 200, by: 10)))
        }
        #expect(server.connectionCount == 1)
        client.close()
    }

    @Test("record(_:window:) puts a whole sequence with a bounded window")
    func record() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        let samples = AsyncStream<MetricSample> { continuation in
            for index in 0..<5000 { continuation.yield(MetricSample(key: "s", value: Double(index), timestamp: index)) }
            continuation.finish()
        }
        #expect(try await client.record(samples, window: 64) == 5000)
        #expect(try await client.get("s")["s"]?.count == 5000)
        client.close()
    }

    @Test("a connection lost mid-call reconnects and the calls in flight are sent again")
    func reconnect() async throws {
        let server = try MetricStoreServer(port: 0)
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        let client = MetricStoreClient(host: "127.0.0.1", port: proxy.port, timeout: .seconds(15),
                                       reconnect: Backoff(initialDelay: .milliseconds(20), maxDelay: .milliseconds(100), multiplier: 2, jitter: 0, maxAttempts: nil))
        try await client.put("before", 1, timestamp: 1)
        proxy.setBlackhole(true)  // commands vanish, no answer comes
        let inFlight = Task { try await client.put("during", 2, timestamp: 2) }
        #expect(await eventually { proxy.acceptTimes.count == 1 })
        // The put is on the wire (the proxy swallowed its line) before the connection drops.
        #expect(await eventually { proxy.bytesSwallowedToServer >= "put during 2 2\n".utf8.count })
        proxy.setBlackhole(false)
        await proxy.dropAll()
        try await inFlight.value
        #expect(try await client.get("*").keys.sorted() == ["before", "during"])
        #expect(proxy.acceptTimes.count == 2, "it reconnected once")
        client.close()
    }

    @Test("durability: acknowledged puts survive a restart from the data file; a torn last line is ignored and reported")
    func journal() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).journal").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let server = try MetricStoreServer(port: 0, configuration: .init(dataFile: path))
            let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
            // Two keys, two puts per key and second: the second overwrites the first.
            for index in 0..<100 { try await client.put("k\(index % 2)", Double(index), timestamp: index / 4) }
            client.close()
            server.stop()
        }
        // A process killed mid-write leaves a partial line.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("put k0 99".utf8))
        try handle.close()
        let restarted = try MetricStoreServer(port: 0, configuration: .init(dataFile: path))
        defer { restarted.stop() }
        #expect(restarted.startupNotes.contains { $0.contains("torn last line") })
        #expect(restarted.pointCount == 50, "one point per (key, second): 2 keys over 25 seconds")
        let client = MetricStoreClient(host: "127.0.0.1", port: restarted.port, timeout: .seconds(15))
        let all = try await client.get("*")
        #expect(all["k0"]?.first == MetricPoint(timestamp: 0, value: 2), "the overwrite survived, not the first put")
        #expect(all["k1"]?.last == MetricPoint(timestamp: 24, value: 99))
        #expect(all["k0"]?.count == 25 && all["k1"]?.count == 25)
        client.close()
    }
}
