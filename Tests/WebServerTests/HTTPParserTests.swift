import Testing
@testable import WebServer

/// The HTTP/1.1 request parser without sockets.
@Suite("HTTP request parser")
struct HTTPParserTests {
    static func parse(_ text: String, cut: Int? = nil, maxHeadSize: Int = 16 << 10, maxBodySize: Int = 64 << 10) -> [HTTPRequestParser.Output] {
        var parser = HTTPRequestParser(maxHeadSize: maxHeadSize, maxBodySize: maxBodySize)
        var outputs: [HTTPRequestParser.Output] = []
        let bytes = Array(text.utf8)
        let split = cut ?? bytes.count
        for part in [Array(bytes[..<split]), Array(bytes[split...])] {
            part.withUnsafeBytes { parser.feed($0, into: &outputs) }
        }
        return outputs
    }

    static let pipelined = "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\": true}"
        + "GET /page?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        + "GET / HTTP/1.0\r\n\r\n"

    @Test("pipelined requests with a body, split at every byte boundary, parse the same")
    func splits() throws {
        let whole = Self.parse(Self.pipelined)
        #expect(whole.count == 3)
        guard case .request(let post) = whole[0], case .request(let get) = whole[1], case .request(let old) = whole[2] else {
            Issue.record("\(whole)")
            return
        }
        #expect(post.method == "POST" && post.path == "/api" && post.body == Array("{\"a\": true}".utf8) && post.keepAlive)
        #expect(post["content-type"] == "application/json")
        #expect(get.method == "GET" && get.target == "/page?x=1" && get.path == "/page" && !get.keepAlive)
        #expect(old.version == "HTTP/1.0" && !old.keepAlive, "HTTP/1.0 closes unless asked")
        for cut in 0...Self.pipelined.utf8.count {
            #expect(Self.parse(Self.pipelined, cut: cut) == whole, "cut \(cut)")
        }
    }

    @Test("bad requests get the status that refuses them, and nothing after is read", arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 17_000) + "\r\n\r\n", 431),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n", 413),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
        ("GET nopath HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
    ] as [(String, Int)])
    func refusals(text: String, status: Int) {
        let outputs = Self.parse(text + "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        guard outputs.count == 1, case .failure(let failure) = outputs[0] else {
            Issue.record("\(outputs)")
            return
        }
        #expect(failure.status == status, "\(failure.reason)")
    }

    @Test("the limits are exact: a 64 KiB body and a head just under 16 KiB pass")
    func limits() {
        let body = String(repeating: "b", count: 65_536)
        let outputs = Self.parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + body)
        guard case .request(let request)? = outputs.first else {
            Issue.record("\(outputs)")
            return
        }
        #expect(request.body.count == 65_536)
        let head = "GET / HTTP/1.1\r\nHost: x\r\nX: "
        let filler = String(repeating: "a", count: 16_384 - head.utf8.count - 4)
        #expect(Self.parse(head + filler + "\r\n\r\n").count == 1, "exactly 16 KiB with the empty line")
        guard case .failure(let failure)? = Self.parse(head + filler + "a\r\n\r\n").first else {
            Issue.record("one byte more must fail")
            return
        }
        #expect(failure.status == 431)
    }

    @Test("an upgrade request stops the parser; what follows is kept for the new protocol")
    func upgrade() {
        var parser = HTTPRequestParser()
        var outputs: [HTTPRequestParser.Output] = []
        let text = "GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{80}"
        Array(text.utf8).withUnsafeBytes { parser.feed($0, into: &outputs) }
        #expect(outputs.count == 1 && parser.isStopped)
        #expect(parser.leftover == [0xC2, 0x81, 0xC2, 0x80])
    }
}
