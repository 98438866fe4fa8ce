import Foundation
import TCPTransport
import Testing
import TestSupport
import WebSocketCore
import WebSocketIO
@testable import WebServer

/// The HTTP server over loopback, driven by raw sockets and our WebSocket client.
@Suite("HTTP server on loopback", .timeLimit(.minutes(1)))
struct HTTPServerTests {
    static func server() throws -> HTTPServer {
        var routes = HTTPRoutes()
        routes.add("GET", "/") { _ in HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array("<p>hi</p>".utf8)) }
        routes.add("POST", "/echo") { request in HTTPResponse(status: 200, contentType: "application/octet-stream", body: request.body) }
        let table = routes
        return try HTTPServer(port: 0, webSocket: { connection, request in
            // Echo one text message with the path, then close.
            if let message = await connection.receive(), case .text(let text) = message {
                try? await connection.send(text: "\(request.path): \(text)")
            }
            _ = await connection.close()
        }, handler: { await table.respond(to: $0) })
    }

    /// Reads responses from a raw peer, keeping what it read past one for the next.
    final class Responses {
        let peer: RawPeer
        var buffer: [UInt8] = []

        init(_ peer: RawPeer) { self.peer = peer }

        func next() throws -> (status: Int, head: HTTPHead, body: String) {
            var end: Int?
            while true {
                if buffer.count >= 4, let index = (0...(buffer.count - 4)).first(where: { buffer[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }) {
                    end = index
                    break
                }
                let more = try peer.read(count: 1, timeout: .seconds(10))
                guard !more.isEmpty else { throw RawPeerError(description: "no response head; got \(buffer.count) bytes") }
                buffer += more
            }
            let headEnd = end ?? 0
            let lines = String(decoding: buffer[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
            buffer.removeFirst(headEnd + 4)
            let fields = lines.dropFirst().map { line -> (name: String, value: String) in
                let parts = line.split(separator: ":", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
            }
            let head = HTTPHead(startLine: lines[0], fields: fields)
            let status = Int(lines[0].split(separator: " ")[1]) ?? 0
            let length = Int(head["Content-Length"] ?? "0") ?? 0
            while buffer.count < length {
                let more = try peer.read(count: length - buffer.count)
                guard !more.isEmpty else { throw RawPeerError(description: "short body") }
                buffer += more
            }
            let body = Array(buffer.prefix(length))
            buffer.removeFirst(length)
            return (status, head, String(decoding: body, as: UTF8.self))
        }
    }

    @Test("keep-alive: several requests on one connection, pipelined too; 404 and 405 with Allow")
    func keepAlive() async throws {
        let server = try Self.server()
        defer { server.stop() }
        try await onThread {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { peer.close() }
            let responses = Responses(peer)
            try peer.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let first = try responses.next()
            #expect(first.status == 200 && first.body == "<p>hi</p>" && first.head["Connection"] == "keep-alive")
            try peer.write(Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /nope HTTP/1.1\r\nHost: x\r\n\r\nDELETE /echo HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let echo = try responses.next()
            #expect(echo.status == 200 && echo.body == "hello")
            let missing = try responses.next()
            #expect(missing.status == 404 && missing.head["Content-Type"] == "application/json")
            let wrongMethod = try responses.next()
            #expect(wrongMethod.status == 405 && wrongMethod.head["Allow"] == "POST")
            try peer.write(Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            let last = try responses.next()
            #expect(last.status == 200 && last.head["Connection"] == "close")
            #expect(try peer.waitForEOF(timeout: .seconds(5)), "closed after Connection: close")
        }
    }

    @Test("limits and garbage: 431, 413, 501, 400, each closing its connection; the server goes on")
    func badRequests() async throws {
        let server = try Self.server()
        defer { server.stop() }
        let cases: [(String, Int)] = [
            ("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n", 431),
            ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413),
            ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            ("\u{0}\u{1}garbage\r\n\r\n", 400),
        ]
        for (text, status) in cases {
            try await onThread {
                let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
                defer { peer.close() }
                try? peer.write(Array(text.utf8))
                let answer = try Responses(peer).next()
                #expect(answer.status == status && answer.head["Connection"] == "close", "\(status): \(answer)")
                #expect(try peer.waitForEOF(timeout: .seconds(5)))
            }
        }
        let healthy = try await onThread { () -> Int in
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { peer.close() }
            try peer.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            return try Responses(peer).next().status
        }
        #expect(healthy == 200)
    }

    @Test("a WebSocket upgrade on the same port is handed to the handler, which talks over it")
    func webSocketUpgrade() async throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port, path: "/live")
        try await client.send(text: "ping")
        let answer = await client.receive()
        #expect(answer == .text("/live: ping"))
        #expect(await client.receive() == nil, "the server closes after its answer")
        let closure = await client.closed()
        #expect(closure.code == .normalClosure)
    }

    @Test("a client that sends half a head and stalls, or idles on keep-alive, is closed after the request timeout")
    func stalledClients() async throws {
        let server = try HTTPServer(port: 0, requestTimeout: .milliseconds(300)) { _ in .text(200, "ok") }
        defer { server.stop() }
        try await onThread {
            let staller = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { staller.close() }
            try staller.write(Array("GET / HTTP/1.1\r\nHost: x\r\nX-Half: ".utf8))
            // Positive control: a complete request on another connection is answered meanwhile.
            let quick = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { quick.close() }
            try quick.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(try Responses(quick).next().status == 200)
            // Closed by the server (the waits are safety nets: "never" would run into them; how
            // long after its 300 ms the loaded machine took is not the server's behaviour).
            #expect(try staller.waitForEOF(timeout: .seconds(30)), "the staller is closed")
            // With a FIN: a reset could make the client's kernel drop a response it has not read.
            #expect(quick.waitForFIN(timeout: .seconds(30)), "an idle keep-alive connection is closed too, cleanly")
        }
    }
}

@Suite("HTTP server under a flood of pipelined requests whose responses are never read", .timeLimit(.minutes(3)))
struct HTTPServerFloodTests {
    @Test("1,000 pipelined GETs of 16 KiB each from a client that never reads: it is paused, not dropped; another client is answered at once; the flooder gets every response once it reads")
    func flood() async throws {
        let body = Array(String(repeating: "b", count: 16 << 10).utf8)
        var routes = HTTPRoutes()
        routes.add("GET", "/big") { _ in HTTPResponse(status: 200, contentType: "text/plain", body: body) }
        routes.add("GET", "/") { _ in HTTPResponse(status: 200, contentType: "text/plain", body: Array("hi".utf8)) }
        let table = routes
        let server = try HTTPServer(port: 0, handler: { await table.respond(to: $0) })
        defer { server.stop() }
        let count = 1000
        let flooder = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5), receiveBuffer: 4096))
        defer { flooder.close() }
        let requests = Array(String(repeating: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", count: count).utf8)
        try flooder.write(requests, timeout: .seconds(10))
        let deadline = ContinuousClock.now + .seconds(30)
        while !server.connectionBuffers.contains(where: { $0.readingPausedForOutput }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.connectionBuffers.contains { $0.readingPausedForOutput }, "the flooder's reading never paused for its output")
        // Another client is answered at once, ten times.
        let prober = try RawPeer(socket: TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
        defer { prober.close() }
        for _ in 0..<10 {
            let (status, body) = try await onThread {
                try prober.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                let response = try HTTPServerTests.Responses(prober).next()
                return (response.status, response.body)
            }
            #expect(status == 200 && body == "hi")
            // Causal, not a stopwatch: behind the flood it would be answered only after the
            // flooder's responses drained; the flooder is still paused, unread, when it is.
            #expect(server.connectionBuffers.contains { $0.readingPausedForOutput }, "answered while the flood still waits")
        }
        for buffers in server.connectionBuffers {
            #expect(buffers.pendingOutput <= (4 << 20) + (64 << 10), "\(buffers.pendingOutput) bytes of responses wait for one client")
        }
        // Once it reads, every response arrives whole.
        let complete = try await onThread { () -> Int in
            let flooded = HTTPServerTests.Responses(flooder)
            var complete = 0
            for _ in 0..<count {
                guard let response = try? flooded.next(), response.status == 200, response.body.utf8.count == 16 << 10 else { break }
                complete += 1
            }
            return complete
        }
        #expect(complete == count)
    }
}
