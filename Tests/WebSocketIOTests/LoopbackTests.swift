import Testing
import TestSupport
import TCPTransport
@testable import WebSocketCore
@testable import WebSocketIO

@Suite("Loopback: our client against our server", .timeLimit(.minutes(1)))
struct LoopbackTests {
    let big = WebSocketConfiguration(limits: .init(maxFrameSize: 2 << 20, maxMessageSize: 2 << 20))

    @Test("text and binary messages of every size class echo intact, in order")
    func echoSizes() async throws {
        let (server, task) = try startEchoServer(configuration: big)
        defer { server.stop(); task.cancel() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port, configuration: big)
        var generator = SystemRandomNumberGenerator()
        for size in [0, 1, 125, 126, 65535, 65536, 1 << 20] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = String(repeating: "é", count: size / 2) + (size % 2 == 1 ? "x" : "")
            try await client.send(binary: bytes)
            try await client.send(text: text)
            #expect(await client.receive() == .binary(bytes), "binary \(size)")
            #expect(await client.receive() == .text(text), "text \(size)")
        }
        let closure = await client.close()
        #expect(closure == .init(code: .normalClosure, reason: "", initiator: .local, error: nil, isClean: true))
    }

    @Test("a fragmented message is reassembled by the server and echoed whole")
    func fragmented() async throws {
        let (server, task) = try startEchoServer()
        defer { server.stop(); task.cancel() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port)
        try await client.send(frame: .text, payload: Array("frag".utf8), fin: false)
        try await client.ping()
        try await client.send(frame: .continuation, payload: Array("men".utf8), fin: false)
        try await client.send(frame: .continuation, payload: Array("ted €".utf8), fin: true)
        #expect(await client.receive() == .text("fragmented €"))
        await client.close()
    }

    @Test("close initiated by the client: both sides see a clean 1000")
    func clientCloses() async throws {
        let server = try WebSocketServer()
        defer { server.stop() }
        async let accepted = server.connections.first { _ in true }
        let client = try await WebSocketConnection.connect(host: "localhost", port: server.port)
        let serverSide = try #require(await accepted)
        #expect(serverSide.path == "/")
        let closure = await client.close(code: .goingAway, reason: "bye")
        #expect(closure.isClean && closure.code == .goingAway && closure.initiator == .local)
        #expect(await serverSide.receive() == nil)
        let serverClosure = await serverSide.closed()
        #expect(serverClosure == .init(code: .goingAway, reason: "bye", initiator: .remote, error: nil, isClean: true))
    }

    @Test("close initiated by the server: the client's messages end, then a clean close")
    func serverCloses() async throws {
        let server = try WebSocketServer()
        defer { server.stop() }
        async let accepted = server.connections.first { _ in true }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port, path: "/sensors?x=1")
        let serverSide = try #require(await accepted)
        #expect(serverSide.path == "/sensors?x=1")
        try await serverSide.send(text: "last words")
        async let serverClosure = serverSide.close(code: .init(4000), reason: "maintenance")
        #expect(await client.receive() == .text("last words"))
        #expect(await client.receive() == nil)
        let clientClosure = await client.closed()
        #expect(clientClosure == .init(code: .init(4000), reason: "maintenance", initiator: .remote, error: nil, isClean: true))
        #expect(await serverClosure.isClean)
        await #expect(throws: WebSocketError.closed(clientClosure)) { try await client.send(text: "too late") }
    }

    @Test("ping waits for its pong")
    func ping() async throws {
        let (server, task) = try startEchoServer()
        defer { server.stop(); task.cancel() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port)
        for _ in 0..<3 { try await client.ping() }
        await client.close()
        await #expect(throws: WebSocketError.self) { try await client.ping() }
    }

    @Test("a slow consumer pauses reading instead of buffering without bound; nothing is lost")
    func backpressure() async throws {
        let small = WebSocketConfiguration(inboundBufferLimit: 64 * 1024, outboundHighWater: 64 * 1024)
        let server = try WebSocketServer(configuration: small)
        defer { server.stop() }
        async let accepted = server.connections.first { _ in true }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port, configuration: small)
        let serverSide = try #require(await accepted)
        let count = 2000
        let sender = Task {
            for index in 0..<count { try await serverSide.send(text: "\(index):" + String(repeating: "x", count: 1000)) }
        }
        // The loop stops reading once the inbox passes its limit: wait for that pause itself.
        #expect(await eventually { client.core.isReadingPaused }, "reading never paused")
        let buffered = client.core.inboundBufferedBytes
        #expect(buffered <= 64 * 1024 + 65536 + 2048, "inbox holds \(buffered) bytes")
        for index in 0..<count {
            guard case .text(let text) = await client.receive() else { Issue.record("missing \(index)"); break }
            #expect(text.hasPrefix("\(index):"))
        }
        try await sender.value
        await client.close()
    }
}

@Suite("Client against misbehaving servers", .timeLimit(.minutes(1)))
struct MisbehavingServerTests {
    @Test("nothing listening: connection refused")
    func refused() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        defer { withExtendedLifetime(refusing) {} }
        await #expect(throws: WebSocketError.connectFailed(.connectionRefused)) {
            _ = try await WebSocketConnection.connect(host: "127.0.0.1", port: port)
        }
    }

    @Test("an unknown host fails name resolution with a typed error")
    func unknownHost() async {
        do {
            _ = try await WebSocketConnection.connect(host: "no-such-host.invalid", port: 80)
            Issue.record("connected to an invalid host")
        } catch {
            guard case .connectFailed(.nameResolutionFailed) = error else { Issue.record("\(error)"); return }
        }
    }

    @Test("a server that never answers the handshake times out")
    func handshakeTimeout() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let configuration = WebSocketConfiguration(handshakeTimeout: .milliseconds(300))
        async let peer = onThread { try raw.accept() }
        await #expect(throws: WebSocketError.handshakeTimedOut) {
            _ = try await WebSocketConnection.connect(host: "127.0.0.1", port: raw.port, configuration: configuration)
        }
        try await peer.close()
    }

    @Test("wrong status, wrong accept and an oversized head are refused", arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", WebSocketError.handshakeFailed(.unexpectedStatus(200, "HTTP/1.1 200 OK"))),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n",
         WebSocketError.handshakeFailed(.invalidAccept("AAAA"))),
        ("HTTP/1.1 101 Switching Protocols\r\nX: " + String(repeating: "y", count: 20000) + "\r\n\r\n",
         WebSocketError.handshakeFailed(.malformedHead(.tooLarge(limit: 16384)))),
        ("", WebSocketError.handshakeFailed(.connectionClosed)),
    ])
    func badResponses(response: String, expected: WebSocketError) async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let serve = Task { try await onThread { try raw.answerOnce(with: response) } }
        await #expect(throws: expected) {
            _ = try await WebSocketConnection.connect(host: "127.0.0.1", port: raw.port)
        }
        try await serve.value
    }

    @Test("a masked frame from the server: the client sends close 1002 and ends")
    func protocolViolation() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        async let peerTask = onThread { try raw.acceptWebSocket() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: raw.port)
        let peer = try await peerTask
        try await onThread {
            try peer.write(serverFrame(.text, Array("ok".utf8)) + serverFrame(.text, Array("bad".utf8), key: WebSocketMaskingKey(1, 2, 3, 4)))
        }
        #expect(await client.receive() == .text("ok"))
        #expect(await client.receive() == nil)
        let bytes = try await onThread { try peer.read(count: 6 + 2 + 24) }
        let frames = try clientFrames(bytes)
        #expect(frames.map(\.opcode) == [.close])
        #expect(Array(frames[0].payload.prefix(2)) == [0x03, 0xEA], "close code 1002")
        // The server closes TCP after the client's close; the client then ends.
        peer.close()
        let closure = await client.closed()
        #expect(closure.error == .unexpectedMask)
    }

    @Test("frames that arrive with the handshake response are not lost")
    func framesWithHandshake() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let serve = Task {
            try await onThread {
                let peer = try raw.accept()
                let head = try peer.readHead()
                guard case .success(let accepted) = ServerHandshake.respond(to: head) else { throw RawPeerError(description: "handshake") }
                try peer.write(accepted.response + serverFrame(.text, Array("early".utf8)) + serverFrame(.close, [0x03, 0xE8]))
                return peer
            }
        }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: raw.port)
        #expect(await client.receive() == .text("early"))
        #expect(await client.receive() == nil)
        let peer = try await serve.value
        let reply = try await onThread { try peer.read(count: 6 + 2) }
        #expect(try clientFrames(reply) == [WebSocketFrame(opcode: .close, maskingKey: try clientFrames(reply).first?.maskingKey, payload: [0x03, 0xE8])])
        peer.close()
        #expect(await client.closed().isClean)
    }

    @Test("a server that vanishes (EOF without close) ends the client with 1006")
    func abruptEOF() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        async let peerTask = onThread { try raw.acceptWebSocket() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: raw.port)
        try await peerTask.socket.abort()
        #expect(await client.receive() == nil)
        let closure = await client.closed()
        #expect(closure.code == .abnormalClosure && !closure.isClean)
        await #expect(throws: WebSocketError.self) { try await client.send(text: "x") }
    }

    @Test("a server that ignores our close is dropped after closeTimeout")
    func closeTimeout() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        async let peerTask = onThread { try raw.acceptWebSocket() }
        let configuration = WebSocketConfiguration(closeTimeout: .milliseconds(300))
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: raw.port, configuration: configuration)
        let peer = try await peerTask
        let start = ContinuousClock.now
        let closure = await client.close()
        #expect(ContinuousClock.now - start < .milliseconds(4500), "well before the default 5 s closeTimeout")
        #expect(!closure.isClean && closure.code == .abnormalClosure)
        #expect(try await onThread { try peer.waitForEOF() })
        peer.close()
    }
}

@Suite("Server against misbehaving clients", .timeLimit(.minutes(1)))
struct MisbehavingClientTests {
    func rawClient(_ port: Int) throws -> RawPeer {
        RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
    }

    @Test("a request that is not a WebSocket upgrade gets 400 and never becomes a connection")
    func badRequest() async throws {
        let server = try WebSocketServer()
        defer { server.stop() }
        let response = try await onThread {
            let peer = try self.rawClient(server.port)
            try peer.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            defer { peer.close() }
            return try peer.read(count: 1 << 16)
        }
        #expect(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        var rejections = server.rejections.makeAsyncIterator()
        #expect(await rejections.next()?.contains("400") == true)
    }

    @Test("an unmasked frame from a client: close 1002 and the socket closed")
    func unmaskedFrame() async throws {
        let server = try WebSocketServer()
        defer { server.stop() }
        async let accepted = server.connections.first { _ in true }
        let handshake = ClientHandshake(host: "127.0.0.1", port: server.port, path: "/")
        let peer = try await onThread {
            let peer = try self.rawClient(server.port)
            try peer.write(handshake.request)
            _ = try peer.readHead()
            return peer
        }
        let serverSide = try #require(await accepted)
        try await onThread { try peer.write(serverFrame(.text, Array("unmasked".utf8))) }
        #expect(await serverSide.receive() == nil)
        let bytes = try await onThread { try peer.read(count: 1 << 16) }
        var collector = FrameCollector(FrameDecoder(role: .client, maxFrameSize: 1 << 16))
        let frames = try collector.feed(bytes)
        #expect(frames.map(\.opcode) == [.close])
        #expect(Array(frames[0].payload.prefix(2)) == [0x03, 0xEA])
        #expect(await serverSide.closed().error == .missingMask)
        peer.close()
    }
}
