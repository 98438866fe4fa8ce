import Testing
import TestSupport
@testable import WebSocketCore

@Suite("permessage-deflate (RFC 7692): negotiation, compression, limits")
struct PerMessageDeflateTests {
    static let defaults = PerMessageDeflate(parameters: .init(), isServer: false, configuration: .init())

    func client(_ deflate: PerMessageDeflate? = defaults, maxMessage: Int = 1 << 20) -> WebSocketSession {
        WebSocketSession(role: .client, configuration: .init(maxFrameSize: maxMessage, maxMessageSize: maxMessage),
                         maskingKeys: FixedMaskingKeys([rfcKey]), deflate: deflate)
    }

    func server(_ deflate: PerMessageDeflate? = PerMessageDeflate(parameters: .init(), isServer: true, configuration: .init()),
                maxMessage: Int = 1 << 20) -> WebSocketSession {
        WebSocketSession(role: .server, configuration: .init(maxFrameSize: maxMessage, maxMessageSize: maxMessage), deflate: deflate)
    }

    // MARK: The RFC's examples (section 7.2.3), byte for byte

    @Test("a server compresses \"Hello\" as RFC 7692 section 7.2.3.1 shows, and again with the shared window (7.2.3.2)")
    func rfcCompressedBytes() throws {
        var session = server()
        try session.sendText("Hello")
        #expect(hexString(session.takePendingOutput()) == "c1 07 f2 48 cd c9 c9 07 00")
        try session.sendText("Hello")
        #expect(hexString(session.takePendingOutput()) == "c1 05 f2 00 11 00 00")
    }

    @Test("with no context takeover each message compresses alone (the first example twice)")
    func noContextTakeoverBytes() throws {
        let settings = PerMessageDeflate(parameters: .init(serverNoContextTakeover: true), isServer: true, configuration: .init())
        var session = server(settings)
        try session.sendText("Hello")
        try session.sendText("Hello")
        #expect(hexString(session.takePendingOutput()) == "c1 07 f2 48 cd c9 c9 07 00 c1 07 f2 48 cd c9 c9 07 00")
    }

    @Test("every example message of section 7.2.3 reads as \"Hello\", split at every byte boundary",
          arguments: [
              "c1 07 f2 48 cd c9 c9 07 00",                        // 7.2.3.1, one frame
              "41 03 f2 48 cd 80 04 c9 c9 07 00",                  // 7.2.3.1, two fragments
              "c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00",            // 7.2.3.3, a stored block
              "c1 08 f3 48 cd c9 c9 07 00 00",                     // 7.2.3.5, BFINAL set
          ])
    func rfcExamplesRead(_ wire: String) {
        let bytes = hex(wire)
        for cut in 0...bytes.count {
            var session = client()
            #expect(session.feed(split(bytes, at: [cut])) == [.text("Hello")], "cut at \(cut)")
        }
        var session = client()
        #expect(session.feed(bytes.map { [$0] }) == [.text("Hello")], "byte by byte")
    }

    @Test("the second message of 7.2.3.2 needs the first one's window; an uncompressed message between them is fine")
    func sharedWindowRead() {
        var session = client()
        let events = session.feed([hex("c1 07 f2 48 cd c9 c9 07 00"), frame(.text, "plain"), hex("c1 05 f2 00 11 00 00")])
        #expect(events == [.text("Hello"), .text("plain"), .text("Hello")])
        // Positive control for the window: a decompressor that resets loses it.
        let resetting = PerMessageDeflate(parameters: .init(serverNoContextTakeover: true), isServer: false, configuration: .init())
        var forgetful = client(resetting)
        let failed = forgetful.feed([hex("c1 07 f2 48 cd c9 c9 07 00"), hex("c1 05 f2 00 11 00 00")])
        #expect(failed.first == .text("Hello"))
        #expect(failed.last == .failed(.invalidCompressedData))
    }

    // MARK: Round trips

    @Test("client and server sessions exchange messages of every size under each agreement, through random chunking",
          arguments: [
              PerMessageDeflateParameters(),
              PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true),
              PerMessageDeflateParameters(serverMaxWindowBits: 8, clientMaxWindowBits: 9),
              PerMessageDeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 15),
          ])
    func roundTrips(_ parameters: PerMessageDeflateParameters) throws {
        var generator = SeededGenerator(seed: 11)
        var clientSession = client(PerMessageDeflate(parameters: parameters, isServer: false, configuration: .init()))
        var serverSession = server(PerMessageDeflate(parameters: parameters, isServer: true, configuration: .init()))
        for size in [0, 1, 5, 125, 300, 70_000, 200_000] {
            // Compressible text: JSON-like readings with varying numbers.
            var text = ""
            while text.utf8.count < size {
                text += "{\"sensor\":\"s\(Int.random(in: 0..<40, using: &generator))\",\"value\":\(Double.random(in: 0..<100, using: &generator))}"
            }
            text = String(text.utf8.prefix(size))!
            let binary = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try clientSession.sendText(text)
            try clientSession.sendBinary(binary)
            let toServer = clientSession.takePendingOutput()
            #expect(toServer.first.map { $0 & 0x40 } == 0x40, "RSV1 on a compressed message")
            #expect(serverSession.feed(randomChunks(toServer, maxChunk: 97, using: &generator)) == [.text(text), .binary(binary)],
                    "to the server, size \(size)")
            try serverSession.sendText(text)
            try serverSession.sendBinary(binary)
            let toClient = serverSession.takePendingOutput()
            #expect(clientSession.feed(randomChunks(toClient, maxChunk: 4000, using: &generator)) == [.text(text), .binary(binary)],
                    "to the client, size \(size)")
        }
    }

    @Test("text that compresses well goes out smaller; control frames are never compressed")
    func controlFramesPlain() throws {
        var session = server()
        let text = String(repeating: "{\"event\":\"new_sensor_data\",\"data\":{\"value\":1.5}}", count: 20)
        try session.sendText(text)
        let compressed = session.takePendingOutput()
        #expect(compressed.count < text.utf8.count / 5)
        try session.sendPing(Array("ping".utf8))
        #expect(session.takePendingOutput() == frame(.ping, Array("ping".utf8)))
        session.close()
        #expect(session.takePendingOutput() == frame(.close, [0x03, 0xE8]))
    }

    @Test("messages under the minimum size go out uncompressed, larger ones compressed")
    func minimumSize() throws {
        let settings = PerMessageDeflate(parameters: .init(), isServer: true, configuration: .init(minimumSize: 10))
        var session = server(settings)
        try session.sendText("short")
        #expect(session.takePendingOutput() == frame(.text, "short"))
        try session.sendText("long enough to compress")
        #expect(session.takePendingOutput().first == 0xC1)
    }

    // MARK: Limits and violations

    @Test("a compression bomb fails with 1009 once it inflates past the limit, holding at most the limit")
    func compressionBomb() throws {
        let limit = 1 << 16
        // 8 MiB of zeros compress to about 8 KiB.
        var sender = server()
        try sender.sendBinary([UInt8](repeating: 0, count: 8 << 20))
        let wire = sender.takePendingOutput()
        #expect(wire.count < 16 << 10)
        var session = client(maxMessage: limit)
        var generator = SeededGenerator(seed: 5)
        let events = session.feed(randomChunks(wire, maxChunk: 512, using: &generator))
        #expect(events == [.failed(.messageTooLarge(limit: limit))])
        #expect((session.decompressor?.bufferCapacity ?? .max) <= limit + 1)
        #expect(WebSocketProtocolError.messageTooLarge(limit: limit).closeCode == .messageTooBig)
        // Positive control: exactly the limit inflates fine (a fresh sender: the receiver has no window yet).
        var fitting = server()
        try fitting.sendBinary([UInt8](repeating: 0, count: limit))
        var fits = client(maxMessage: limit)
        let received = fits.feed([fitting.takePendingOutput()])
        #expect(received.count == 1)
        if case .binary(let bytes) = received.first {
            #expect(bytes.count == limit && bytes.allSatisfy { $0 == 0 })
        } else {
            Issue.record("expected one binary message")
        }
    }

    @Test("RSV1 where it does not belong fails with 1002: on a control frame, a continuation, or without agreement")
    func misplacedRSV1() {
        var control = client()
        #expect(control.feed([frame(.ping, [1], rsv: 0b100)]) == [.failed(.compressedFrameNotAllowed(.ping))])
        var continuation = client()
        #expect(continuation.feed([frame(.text, Array("He".utf8), fin: false) + frame(.continuation, Array("llo".utf8), rsv: 0b100)])
                == [.failed(.compressedFrameNotAllowed(.continuation))])
        var plain = client(nil)
        #expect(plain.feed([hex("c1 07 f2 48 cd c9 c9 07 00")]) == [.failed(.reservedBitsSet(0b100))])
        #expect(WebSocketProtocolError.compressedFrameNotAllowed(.ping).closeCode == .protocolError)
        // Positive control: RSV2 is never allowed, RSV1 on a first frame is.
        var rsv2 = client()
        #expect(rsv2.feed([frame(.text, Array("x".utf8), rsv: 0b010)]) == [.failed(.reservedBitsSet(0b010))])
    }

    @Test("invalid compressed data fails with 1007; compressed text that inflates to invalid UTF-8 fails with 1007")
    func invalidData() throws {
        var garbage = client()
        #expect(garbage.feed([frame(.binary, [0xFF, 0xFF, 0xFF, 0xFF], rsv: 0b100)]) == [.failed(.invalidCompressedData)])
        var sender = server()
        try sender.sendBinary([0x48, 0xC3, 0x28])
        var wire = sender.takePendingOutput()
        wire[0] = 0xC1  // the same compressed bytes, now announced as text
        var session = client()
        #expect(session.feed([wire]) == [.failed(.invalidUTF8)])
        #expect(WebSocketProtocolError.invalidCompressedData.closeCode == .invalidPayloadData)
    }
}

@Suite("permessage-deflate negotiation (RFC 7692 section 7.1)")
struct PerMessageDeflateNegotiationTests {
    func offers(_ header: String) -> [WebSocketExtension] {
        WebSocketExtension.parseList(header) ?? []
    }

    @Test("the extension header grammar: lists, parameters, quoted values, and what is not a header")
    func headerGrammar() {
        #expect(WebSocketExtension.parseList("permessage-deflate; client_max_window_bits, foo;bar=\"1\" , baz")
                == [WebSocketExtension(name: "permessage-deflate", parameters: [("client_max_window_bits", nil)]),
                    WebSocketExtension(name: "foo", parameters: [("bar", "1")]),
                    WebSocketExtension(name: "baz")])
        #expect(WebSocketExtension.parseList("") == [])
        for bad in ["permessage-deflate;", ", x", "x,", "x; a=", "x; a=\"1", "x; a=\"1 2\"", "x y", "x; a=b=c"] {
            #expect(WebSocketExtension.parseList(bad) == nil, "\(bad)")
        }
    }

    @Test("a server takes the first acceptable offer and answers what it agreed to")
    func serverPicksFirstAcceptable() {
        let header = "permessage-deflate; server_max_window_bits=7, permessage-deflate; foo, "
            + "permessage-deflate; server_no_context_takeover; client_max_window_bits, permessage-deflate"
        let result = PerMessageDeflateParameters.negotiate(offers: offers(header), configuration: .init())
        #expect(result?.parameters == PerMessageDeflateParameters(serverNoContextTakeover: true))
        #expect(result?.response.headerText == "permessage-deflate; server_no_context_takeover")
    }

    @Test("a server honours window limits and adds its own wishes")
    func serverWindowsAndWishes() {
        let configuration = PerMessageDeflateConfiguration(windowBits: 12, peerNoContextTakeover: true, peerMaxWindowBits: 10)
        let result = PerMessageDeflateParameters.negotiate(
            offers: offers("permessage-deflate; server_max_window_bits=14; client_max_window_bits"), configuration: configuration)
        #expect(result?.parameters == PerMessageDeflateParameters(clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 10))
        #expect(result?.response.headerText
                == "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10")
        // A client that did not offer client_max_window_bits gets no such parameter.
        let plain = PerMessageDeflateParameters.negotiate(offers: offers("permessage-deflate"), configuration: configuration)
        #expect(plain?.response.headerText == "permessage-deflate; client_no_context_takeover")
        #expect(plain?.parameters.clientMaxWindowBits == 15)
    }

    @Test("a server declines (nil) offers with unknown, repeated or out-of-range parameters, and other extensions")
    func serverDeclines() {
        for header in ["permessage-deflate; x", "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                       "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=16",
                       "permessage-deflate; client_max_window_bits=08", "permessage-deflate; server_no_context_takeover=1",
                       "x-webkit-deflate-frame"] {
            #expect(PerMessageDeflateParameters.negotiate(offers: offers(header), configuration: .init()) == nil, "\(header)")
        }
    }

    @Test("a client accepts what it offered and rejects anything else as a typed handshake error")
    func clientChecksResponse() throws {
        let configuration = PerMessageDeflateConfiguration()
        #expect(PerMessageDeflateParameters.offer(configuration).headerText == "permessage-deflate; client_max_window_bits")
        #expect(try PerMessageDeflateParameters.acceptResponse([], offered: configuration) == nil)
        #expect(try PerMessageDeflateParameters.acceptResponse(offers("permessage-deflate; server_no_context_takeover; client_max_window_bits=9"), offered: configuration)
                == PerMessageDeflateParameters(serverNoContextTakeover: true, clientMaxWindowBits: 9))
        #expect(try PerMessageDeflateParameters.acceptResponse(offers("permessage-deflate; server_max_window_bits=10"), offered: configuration)
                == PerMessageDeflateParameters(serverMaxWindowBits: 10))
        for header in ["permessage-deflate; client_max_window_bits", "permessage-deflate; x", "x-other",
                       "permessage-deflate, permessage-deflate", "permessage-deflate; server_max_window_bits=20"] {
            #expect(throws: HandshakeError.self, "\(header)") {
                try PerMessageDeflateParameters.acceptResponse(offers(header), offered: configuration)
            }
        }
        // Nothing offered: any extension in the answer is an error.
        #expect(throws: HandshakeError.self) { try PerMessageDeflateParameters.acceptResponse(offers("permessage-deflate"), offered: nil) }
        // Asked-for limits must come back.
        let strict = PerMessageDeflateConfiguration(peerNoContextTakeover: true, peerMaxWindowBits: 10)
        #expect(PerMessageDeflateParameters.offer(strict).headerText
                == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits")
        #expect(throws: HandshakeError.self) {
            try PerMessageDeflateParameters.acceptResponse(offers("permessage-deflate; server_max_window_bits=10"), offered: strict)
        }
        #expect(throws: HandshakeError.self) {
            try PerMessageDeflateParameters.acceptResponse(offers("permessage-deflate; server_no_context_takeover; server_max_window_bits=11"), offered: strict)
        }
    }

    @Test("the opening handshake carries the offer and the answer, and both sides agree")
    func handshakeEndToEnd() throws {
        let client = ClientHandshake(host: "example.com", port: 80, path: "/", deflate: .init())
        let request = try #require(try head(client.request))
        #expect(request["Sec-WebSocket-Extensions"] == "permessage-deflate; client_max_window_bits")
        guard case .success(let accepted) = ServerHandshake.respond(to: request, deflate: .init(noContextTakeover: true)) else {
            Issue.record("refused")
            return
        }
        #expect(accepted.deflate == PerMessageDeflateParameters(serverNoContextTakeover: true))
        let response = try #require(try head(accepted.response))
        #expect(try client.validate(response) == PerMessageDeflateParameters(serverNoContextTakeover: true))
        // A server without deflate answers without the header; the client goes on uncompressed.
        guard case .success(let declined) = ServerHandshake.respond(to: request) else {
            Issue.record("refused")
            return
        }
        #expect(declined.deflate == nil)
        #expect(try client.validate(try #require(try head(declined.response))) == nil)
    }
}

/// The head in `bytes`, which must hold a whole one.
func head(_ bytes: [UInt8]) throws -> HTTPHead? {
    var reader = HTTPHeadReader(maxSize: 1 << 14)
    return try bytes.withUnsafeBytes { try reader.append($0) }?.head
}
