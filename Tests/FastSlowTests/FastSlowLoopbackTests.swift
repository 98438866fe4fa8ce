import Foundation
import FastSlow
import Locking
import TCPTransport
import Testing
import TestSupport

/// A raw TCP peer of the FastSlow server: writes bytes, reads size-prefixed messages.
struct FastSlowPeer {
    let peer: RawPeer

    init(port: Int) throws {
        peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
    }

    func send(_ messages: WrapperMessage...) throws {
        try peer.write(messages.flatMap { DelimitedFramer.frame($0.encoded) })
    }

    /// Reads one message (the prefix byte by byte, then the body).
    func receive(timeout: Duration = .seconds(10)) throws -> WrapperMessage {
        var framer = DelimitedFramer()
        var bodies: [[UInt8]] = []
        let deadline = ContinuousClock.now + timeout
        while bodies.isEmpty {
            let byte = try peer.read(count: 1, timeout: deadline - ContinuousClock.now)
            guard !byte.isEmpty else { throw RawPeerError(description: "no message within \(timeout)") }
            try framer.feed(byte, into: &bodies)
        }
        return try WrapperMessage.decode(bodies[0])
    }
}

@Suite("FastSlow server and client on loopback", .timeLimit(.minutes(2)))
struct FastSlowLoopbackTests {
    static func server(logFile: String? = nil, port: Int = 0, log: (@Sendable (String) -> Void)? = nil) throws -> FastSlowServer {
        try FastSlowServer(configuration: FastSlowServerConfiguration(port: port, logFile: logFile), log: log)
    }

    static func client(_ server: FastSlowServer, port: Int? = nil, configure: (inout FastSlowClient.Configuration) -> Void = { _ in }) -> FastSlowClient {
        var configuration = FastSlowClient.Configuration()
        configuration.reconnectDelay = .seconds(1)
        configure(&configuration)
        return FastSlowClient(host: "127.0.0.1", port: port ?? server.port, configuration: configuration)
    }

    @Test("fast answers the server's local time now; slow answers the client count after its sleep")
    func fastAndSlow() async throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = Self.client(server)
        defer { client.close() }
        try await client.connect()
        let before = Date()
        let now = try await client.fast()
        let after = Date()
        let date = try #require(now.date, "\(now.currentDateTime) is YYYYMMDDThhmmss.fff")
        // Stamped between the call and its answer (milliseconds cut off), however loaded the machine.
        #expect(date >= before.addingTimeInterval(-0.001) && date <= after, "\(date) not within \(before) ... \(after)")
        // The answer cannot come before the sleep (a lower bound holds on any machine; how much
        // later it comes is the machine's load, not the server's behaviour).
        let start = ContinuousClock.now
        #expect(try await client.slow(sleepSeconds: 1) == 1)
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(990), "\(elapsed)")
        #expect(try await client.slow(sleepSeconds: 0) == 1)
    }

    @Test("a slow request does not delay another client's fast one")
    func slowDoesNotBlockOthers() async throws {
        let server = try Self.server()
        defer { server.stop() }
        let sleeper = Self.client(server)
        let other = Self.client(server)
        defer { sleeper.close(); other.close() }
        try await sleeper.connect()
        try await other.connect()
        let sleeperLog = Collected(sleeper.events)
        let slow = Task { try await sleeper.slow(sleepSeconds: 60) }
        #expect(await sleeperLog.waitFor(matching: { if case .requestSent(.slow) = $0 { true } else { false } }))
        #expect(await eventually { server.sleepingRequestCount == 1 }, "positive control: the slow request sleeps on the server")
        // Causal, not a stopwatch: the fast answers arrive while the server still sleeps on the
        // slow request (its timer still armed), however long they take on a loaded machine.
        for _ in 0..<3 { _ = try await other.fast() }
        #expect(server.sleepingRequestCount == 1, "three fast round trips finished while the slow request slept")
        // The sleeper gives up: its connection drops and the server forgets the sleep.
        slow.cancel()
        #expect(await slow.result.isFailure)
        #expect(await eventually { server.sleepingRequestCount == 0 }, "the departed client's sleep was cancelled")
    }

    @Test("on one connection a fast request sent after a slow one is answered first")
    func answersLeaveOutOfOrder() async throws {
        let server = try Self.server()
        defer { server.stop() }
        let answers = try await onThread { () -> [WrapperMessage] in
            let peer = try FastSlowPeer(port: server.port)
            defer { peer.peer.close() }
            try peer.send(.requestForSlowResponse(.init(timeInSecondsToSleep: 1)), .requestForFastResponse)
            return [try peer.receive(), try peer.receive()]
        }
        guard case .fastResponse = answers[0], case .slowResponse(let slow) = answers[1] else {
            Issue.record("expected fast then slow, got \(answers)")
            return
        }
        #expect(slow.connectedClientCount == 1)
    }

    @Test("200 clients asking slow(10) at once sleep at the same time on the server, each answered with the count of its moment")
    func twoHundredSlowClients() async throws {
        let server = try Self.server()
        defer { server.stop() }
        var clients: [FastSlowClient] = []
        for _ in 0..<200 {
            let client = Self.client(server)
            try await client.connect()
            clients.append(client)
        }
        defer { for client in clients { client.close() } }
        #expect(await eventually { server.connectionCount == 200 })
        let connected = clients
        let counts = Task {
            try await withThrowingTaskGroup(of: UInt32.self) { group in
                for client in connected { group.addTask { try await client.slow(sleepSeconds: 10) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // The sleeps overlap: at one moment the server sleeps on all 200 (a server that slept
        // one after another would hold one at a time). Seen causally, not on a stopwatch; the
        // 10 s sleep only has to outlast sending 200 requests.
        #expect(await eventually { server.sleepingRequestCount == 200 }, "all 200 sleep at once")
        let answered = try await counts.value
        #expect(answered.count == 200 && answered.allSatisfy { $0 == 200 }, "\(Set(answered))")
    }

    @Test("the client reconnects after the server restarts; a request on the wire fails with connectionLost, one made while down waits")
    func reconnectAfterRestart() async throws {
        var server = try Self.server()
        let port = server.port
        let client = Self.client(server)
        defer { client.close() }
        let log = Collected(client.events)
        try await client.connect()
        #expect(try await client.fast().date != nil)
        let inFlight = Task { try await client.slow(sleepSeconds: 30) }
        #expect(await log.waitFor(matching: { if case .requestSent(.slow) = $0 { true } else { false } }))
        server.stop()
        await #expect(throws: FastSlowClientError.self) { try await inFlight.value }
        do {
            _ = try await inFlight.value
        } catch {
            guard case .connectionLost = error as? FastSlowClientError else {
                Issue.record("expected connectionLost, got \(error)")
                return
            }
        }
        #expect(await log.waitFor(matching: { if case .connectionLost = $0 { true } else { false } }))
        #expect(await log.waitFor(matching: { if case .reconnecting(.seconds(1), _) = $0 { true } else { false } }))
        let whileDown = Task { try await client.fast() }
        server = try await rebinding { try Self.server(port: port) }
        defer { server.stop() }
        #expect(try await whileDown.value.date != nil, "the call made while down is answered after the reconnect")
        #expect(log.count(where: { if case .connected = $0 { true } else { false } }) == 2)
        #expect(log.count(where: { if case .requestSent(.slow) = $0 { true } else { false } }) == 1, "the lost request was not sent again")
    }

    @Test("periodic mode never has two requests in flight: slow(1) every 100 ms skips ticks")
    func periodicSkipsTicks() async throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = Self.client(server)
        defer { client.close() }
        let log = Collected(client.events)
        try await client.connect()
        var answers = 0
        for await result in client.periodic(every: .milliseconds(100), request: .slow(seconds: 1)) {
            #expect(try result.get() == .slow(connectedClients: 1))
            answers += 1
            if answers == 2 { break }
        }
        let events = log.all
        let skipped = events.filter { if case .tickSkipped = $0 { true } else { false } }.count
        // About 9 skipped ticks per answer on an idle machine; a loaded run (the whole suite on two
        // cores) has seen 7 in all. Skips at all, with the alternation below, is the property.
        #expect(skipped >= 3, "skipped ticks while a slow answer was awaited: \(skipped)")
        // Never two in flight: sends and answers alternate.
        var inFlight = 0
        for event in events {
            switch event {
            case .requestSent: inFlight += 1
            case .responseReceived: inFlight -= 1
            default: continue
            }
            #expect((0...1).contains(inFlight), "\(events)")
        }
    }

    @Test("periodic mode goes on after a reconnect")
    func periodicSurvivesReconnect() async throws {
        var server = try Self.server()
        let port = server.port
        let client = Self.client(server)
        defer { client.close() }
        let log = Collected(client.events)
        try await client.connect()
        var answers = 0
        for await result in client.periodic(every: .milliseconds(20), request: .fast) {
            if case .success = result { answers += 1 }
            if answers == 3 {
                server.stop()
                #expect(await log.waitFor(matching: { if case .connectionLost = $0 { true } else { false } }))
                server = try await rebinding { try Self.server(port: port) }
            }
            if answers == 6 { break }
        }
        server.stop()
        #expect(log.count(where: { if case .connected = $0 { true } else { false } }) == 2, "three answers before the restart, three after")
    }

    @Test("bad input closes only the connection it came on, logged with the reason; a stalled half message holds nothing up")
    func badInput() async throws {
        let lines = LockedValue<[String]>([])
        let server = try Self.server(log: { line in lines.withLock { $0.append(line) } })
        defer { server.stop() }
        let client = Self.client(server)
        defer { client.close() }
        try await client.connect()
        let port = server.port
        try await onThread {
            // Half a message, then silence: it holds its own connection only.
            let staller = try FastSlowPeer(port: port)
            try staller.peer.write([0x04, 0x22, 0x02])
            let garbage = try FastSlowPeer(port: port)
            try garbage.peer.write([0x03, 0xFF, 0xFF, 0xFF])  // a 3-byte body that is no message
            let oversized = try FastSlowPeer(port: port)
            try oversized.peer.write([0x80, 0x80, 0x80, 0x01])  // 2 MiB announced
            let longPrefix = try FastSlowPeer(port: port)
            try longPrefix.peer.write([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
            let response = try FastSlowPeer(port: port)
            try response.send(.slowResponse(.init(connectedClientCount: 1)))
            for peer in [garbage, oversized, longPrefix, response] {
                #expect(try peer.peer.waitForEOF(timeout: .seconds(10)), "closed by the server")
            }
            // The staller is still connected: its message completes and is answered.
            try staller.peer.write([0x08, 0x00])
            // 04 | 22 02 08 00: a slow request of 0 s.
            guard case .slowResponse = try staller.receive() else {
                Issue.record("the staller's completed request is answered")
                return
            }
            staller.peer.close()
        }
        #expect(try await client.fast().date != nil, "the well-behaved client is served throughout")
        let log = lines.withLock { $0 }
        for reason in ["malformed message", "message of 2097152 bytes is above the limit", "size prefix longer than 5 bytes", "a client sent a SlowResponse"] {
            #expect(log.contains { $0.contains("(closed: ") && $0.contains(reason) }, "\(reason) in \(log)")
        }
    }

    @Test("the log file gets every connect and disconnect with time, peer and clients connected")
    func logFile() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fastslow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("fastslow.conf")
        try "# test\nport = 0\nlog_file = fastslow.log\n".write(to: config, atomically: true, encoding: .utf8)
        let server = try FastSlowServer(configuration: .load(path: config.path))
        let first = Self.client(server)
        let second = Self.client(server)
        try await first.connect()
        try await second.connect()
        #expect(await eventually { server.connectionCount == 2 })
        first.close()
        #expect(await eventually { server.connectionCount == 1 })
        second.close()
        #expect(await eventually { server.connectionCount == 0 })
        server.stop()
        let text = try String(contentsOf: folder.appendingPathComponent("fastslow.log"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let pattern = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (connected|disconnected) 127\.0\.0\.1:\d+, (\d+) clients? connected$/
        let events = lines.compactMap { try? pattern.wholeMatch(in: $0) }.map { "\($0.1) \($0.2)" }
        #expect(events == ["connected 1", "connected 2", "disconnected 1", "disconnected 0"], "\(lines)")
    }

    @Test("an unanswered request times out, the connection is dropped and the line is free after the reconnect")
    func requestTimeout() async throws {
        let listener = try RawServer()
        defer { listener.close() }
        var configuration = FastSlowClient.Configuration()
        configuration.reconnectDelay = .seconds(1)
        configuration.requestTimeout = .milliseconds(300)
        // The timeout and the reconnect delay run on a manual clock: no stopwatch on a loaded machine.
        let clock = ManualClock()
        let client = FastSlowClient(host: "127.0.0.1", port: listener.port, configuration: configuration, clock: clock)
        defer { client.close() }
        let log = Collected(client.events)
        let accepted = Task { try await onThread { try listener.accept() } }
        try await client.connect()
        let silent = try await accepted.value
        let call = Task { try await client.fast() }
        // The request reaches the server, which says nothing; its timeout is armed at 300 ms.
        let received = try await onThread { try silent.read(count: 3) }
        #expect(received == DelimitedFramer.frame(WrapperMessage.requestForFastResponse.encoded))
        #expect(await clock.waitForDeadlines([.milliseconds(300)]))
        clock.advance(by: .milliseconds(300))
        await #expect(throws: FastSlowClientError.timeout) { try await call.value }
        // The client dropped the connection (the late answer would hold the line).
        #expect(try await onThread { try silent.waitForEOF(timeout: .seconds(5)) })
        #expect(await log.waitFor(matching: { if case .requestFailed(.fast, .timeout) = $0 { true } else { false } }))
        // Reconnected after the 1 s delay: this time the server answers.
        #expect(await clock.waitForDeadlines([.milliseconds(1300)]))
        clock.advance(by: .seconds(1))
        let answering = try await onThread { try listener.accept() }
        let answer = Task { try await client.fast() }
        let request = try await onThread { try answering.read(count: 3) }
        #expect(request == DelimitedFramer.frame(WrapperMessage.requestForFastResponse.encoded))
        try answering.write(DelimitedFramer.frame(WrapperMessage.fastResponse(.init(currentDateTime: "19851019T050107.333")).encoded))
        #expect(try await answer.value.currentDateTime == "19851019T050107.333")
        answering.close()
        silent.close()
    }

    @Test("settings out of range are refused before anything is sent")
    func validation() async throws {
        var configuration = FastSlowClient.Configuration()
        configuration.reconnectDelay = .milliseconds(500)
        let tooFast = FastSlowClient(host: "127.0.0.1", port: 1, configuration: configuration)
        await #expect(throws: FastSlowClientError.invalidArgument("reconnectDelay 0.5 seconds is outside 1...10 s")) { try await tooFast.connect() }
        configuration.reconnectDelay = .seconds(11)
        await #expect(throws: FastSlowClientError.self) { try await FastSlowClient(host: "127.0.0.1", port: 1, configuration: configuration).connect() }
        let unconnected = FastSlowClient(host: "127.0.0.1", port: 1)
        await #expect(throws: FastSlowClientError.notConnected) { try await unconnected.fast() }
        // Positive control: a server, a valid interval answers; 5 ms and 2 s do not.
        let server = try Self.server()
        defer { server.stop() }
        let client = Self.client(server)
        defer { client.close() }
        try await client.connect()
        for interval: Duration in [.milliseconds(5), .seconds(2)] {
            var results: [Result<FastSlowAnswer, FastSlowClientError>] = []
            for await result in client.periodic(every: interval, request: .fast) { results.append(result) }
            guard results.count == 1, case .failure(.invalidArgument) = results[0] else {
                Issue.record("\(interval): \(results)")
                continue
            }
        }
        for await result in client.periodic(every: .milliseconds(10), request: .fast) {
            #expect(throws: Never.self) { try result.get() }
            break
        }
    }
}

extension Result {
    /// Whether it is a failure.
    var isFailure: Bool { if case .failure = self { true } else { false } }
}
