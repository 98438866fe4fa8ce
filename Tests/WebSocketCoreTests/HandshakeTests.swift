import Testing
@testable import WebSocketCore

@Suite("Opening handshake")
struct HandshakeTests {
    @Test("the RFC 6455 example key gives the RFC's accept value")
    func rfcAccept() {
        #expect(ClientHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("SHA-1 test vectors")
    func sha1() {
        #expect(hexString(SHA1.hash([])) == "da 39 a3 ee 5e 6b 4b 0d 32 55 bf ef 95 60 18 90 af d8 07 09")
        #expect(hexString(SHA1.hash(Array("abc".utf8))) == "a9 99 3e 36 47 06 81 6a ba 3e 25 71 78 50 c2 6c 9c d0 d8 9d")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hexString(SHA1.hash(long)) == "84 98 3e 44 1c 3b d2 6e ba ae 4a a1 f9 51 29 e5 e5 46 70 f1")
    }

    @Test("the client request carries every required field")
    func clientRequest() throws {
        let handshake = ClientHandshake(host: "localhost", port: 5192, path: "/ws?x=1",
                                        extraHeaders: [("Origin", "http://app")], nonce: Array("the sample nonce".utf8))
        #expect(handshake.key == "dGhlIHNhbXBsZSBub25jZQ==")
        let text = String(decoding: handshake.request, as: UTF8.self)
        #expect(text == "GET /ws?x=1 HTTP/1.1\r\nHost: localhost:5192\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://app\r\n\r\n")
        #expect(String(decoding: ClientHandshake(host: "::1", port: 80, path: "/").request, as: UTF8.self).contains("Host: [::1]\r\n"))
        #expect(ClientHandshake(host: "h", port: 1, path: "/").key != ClientHandshake(host: "h", port: 1, path: "/").key)
    }

    func readHead(_ text: String, maxSize: Int = 8192) throws -> (head: HTTPHead, rest: [UInt8])? {
        var reader = HTTPHeadReader(maxSize: maxSize)
        return try Array(text.utf8).withUnsafeBytes { try reader.append($0) }
    }

    @Test("response validation: names case-insensitive, the accept value checked")
    func responseValidation() throws {
        let handshake = ClientHandshake(host: "h", port: 1, path: "/", nonce: Array("the sample nonce".utf8))
        let good = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        var reader = HTTPHeadReader(maxSize: 8192)
        let (head, rest) = try #require(try (Array(good.utf8) + [0x81]).withUnsafeBytes { try reader.append($0) })
        try handshake.validate(head)
        #expect(rest == [0x81], "frame bytes after the head are kept")

        func failure(_ text: String) throws -> HandshakeError? {
            let head = try #require(try readHead(text)).head
            do { try handshake.validate(head); return nil } catch { return error }
        }
        #expect(try failure("HTTP/1.1 200 OK\r\n\r\n") == .unexpectedStatus(200, "HTTP/1.1 200 OK"))
        #expect(try failure("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n") == .missingUpgradeHeader)
        #expect(try failure("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n") == .missingConnectionHeader)
        #expect(try failure("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n") == .invalidAccept(nil))
        #expect(try failure("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong=\r\n\r\n") == .invalidAccept("wrong="))
        #expect(try failure("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
                == .unrequestedNegotiation("extension permessage-deflate"))
        #expect(try failure("garbage\r\n\r\n") == .malformedHead(.malformed("status line")))
        // Fuzzer finding (client-handshake): Int("+101") is 101, and any "HTTP/..." token passed.
        let accept = "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        // A control byte in the start line now fails in the reader, as soon as it arrives.
        #expect(throws: HTTPHeadError.malformed("start line")) { try readHead("HTTP/\u{7}\u{7}1.1 101 S" + accept) }
        #expect(throws: HTTPHeadError.malformed("start line")) { try readHead("\u{16}\u{3}\u{1}\u{2}\u{0}") }
        for statusLine in ["HTTP/1.1 +101 S", "HTTP/1.1 0101 S", "HTTP/1.1 101.0", "HTTP/0.9 101 S",
                           "HTTP/1.1  101 S", "HTTP/11 101 S", "HTTP/1.1 1O1 S"] {
            #expect(try failure(statusLine + accept) == .malformedHead(.malformed("status line")), "\(statusLine)")
        }
        #expect(try failure("HTTP/1.1 101" + accept) == nil, "the reason phrase is optional")
        #expect(try failure("HTTP/1.2 101 OK" + accept) == nil, "a later HTTP/1.x is fine")
    }

    @Test("heads are read across any split, bounded in size")
    func headReader() throws {
        let text = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest".utf8)
        for cut in 0...text.count {
            var reader = HTTPHeadReader(maxSize: 1000)
            let first = try Array(text[..<cut]).withUnsafeBytes { try reader.append($0) }
            let result = try first ?? Array(text[cut...]).withUnsafeBytes { try reader.append($0) }
            let (head, rest) = try #require(result, "cut \(cut)")
            #expect(head.startLine == "GET / HTTP/1.1" && head["host"] == "a", "cut \(cut)")
            let tail = first == nil ? rest : rest + Array(text[cut...])
            #expect(tail == Array("rest".utf8), "cut \(cut)")
        }
        #expect(throws: HTTPHeadError.tooLarge(limit: 64)) { try readHead(String(repeating: "x", count: 100), maxSize: 64) }
        #expect(throws: HTTPHeadError.tooLarge(limit: 64)) { try readHead("GET / HTTP/1.1\r\nA: \(String(repeating: "x", count: 80))\r\n\r\n", maxSize: 64) }
        #expect(throws: HTTPHeadError.malformed("field without a colon")) { try readHead("GET / HTTP/1.1\r\nnocolon\r\n\r\n") }
        #expect(throws: HTTPHeadError.malformed("invalid field name")) { try readHead("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n") }
    }

    func request(_ fields: [(String, String)], line: String = "GET /sensors HTTP/1.1") -> HTTPHead {
        HTTPHead(startLine: line, fields: fields.map { (name: $0.0, value: $0.1) })
    }

    let validFields: [(String, String)] = [("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                           ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]

    @Test("the server accepts a valid request with the right accept value")
    func serverAccepts() throws {
        let accepted = try ServerHandshake.respond(to: request(validFields)).get()
        #expect(accepted.path == "/sensors")
        #expect(String(decoding: accepted.response, as: UTF8.self)
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        // And our own client accepts the server's answer.
        let client = ClientHandshake(host: "h", port: 1, path: "/", nonce: Array("the sample nonce".utf8))
        let head = try #require(try accepted.response.withUnsafeBytes { bytes in
            var reader = HTTPHeadReader(maxSize: 1000)
            return try reader.append(bytes)
        }).head
        try client.validate(head)
    }

    @Test("the server refuses bad requests with 400, 405 or 426")
    func serverRejects() {
        func status(_ fields: [(String, String)], line: String = "GET / HTTP/1.1") -> Int? {
            if case .failure(let rejected) = ServerHandshake.respond(to: request(fields, line: line)) { return rejected.status }
            return nil
        }
        func without(_ name: String) -> [(String, String)] { validFields.filter { $0.0 != name } }
        func replacing(_ name: String, _ value: String) -> [(String, String)] { without(name) + [(name, value)] }
        #expect(status(validFields, line: "POST / HTTP/1.1") == 405)
        #expect(status(validFields, line: "GET / HTTP/1.0") == 400)
        #expect(status(validFields, line: "GET nopath HTTP/1.1") == 400)
        for version in ["HTTP/1.\u{7}", "HTTP/1.1x", "HTTP/x.1", "http/1.1", "HTTP/0.9"] {
            #expect(status(validFields, line: "GET / " + version) == 400, "\(version)")
        }
        #expect(status(validFields, line: "GET / HTTP/1.2") == nil)
        #expect(status(without("Host")) == 400)
        #expect(status(without("Upgrade")) == 400)
        #expect(status(without("Connection")) == 400)
        #expect(status(without("Sec-WebSocket-Key")) == 400)
        #expect(status(replacing("Sec-WebSocket-Key", "c2hvcnQ=")) == 400)
        #expect(status(replacing("Sec-WebSocket-Version", "8")) == 426)
        if case .failure(let rejected) = ServerHandshake.respond(to: request(replacing("Sec-WebSocket-Version", "8"))) {
            #expect(String(decoding: rejected.response, as: UTF8.self).contains("Sec-WebSocket-Version: 13\r\n"))
        }
    }
}
