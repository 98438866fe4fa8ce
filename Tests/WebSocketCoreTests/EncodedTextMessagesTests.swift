import Testing
import TestSupport
@testable import WebSocketCore

@Suite("Text messages framed once for many connections")
struct EncodedTextMessagesTests {
    /// Short, 126-byte (16-bit length) and 70,000-byte (64-bit length) messages, non-ASCII too.
    let texts = ["Hello", "{\"event\":\"new_sensor_data\",\"data\":{\"temp\":21.5}}", "é漢🎉",
                 String(repeating: "a", count: 126), String(repeating: "b", count: 70_000), ""]

    func session(_ role: WebSocketSession.Role, deflate: PerMessageDeflate? = nil) -> WebSocketSession {
        WebSocketSession(role: role, configuration: .init(maxFrameSize: 1 << 20, maxMessageSize: 1 << 20),
                         maskingKeys: FixedMaskingKeys([rfcKey]), deflate: deflate)
    }

    /// What sending each text one by one queues on a fresh session.
    func oneByOne(_ role: WebSocketSession.Role, deflate: PerMessageDeflate? = nil) throws -> [UInt8] {
        var reference = session(role, deflate: deflate)
        for text in texts { try reference.sendText(text) }
        return reference.takePendingOutput()
    }

    @Test("a server without compression queues exactly the bytes of sending each text alone")
    func serverCopiesTheFrames() throws {
        let encoded = EncodedTextMessages(texts)
        #expect(encoded.serverFrames == (try oneByOne(.server)))
        var server = session(.server)
        try server.sendText(encoded)
        #expect(server.takePendingOutput() == (try oneByOne(.server)))
        // Unframed (for one connection): the same bytes, framed as they are queued.
        var single = session(.server)
        try single.sendText(EncodedTextMessages(texts, framed: false))
        #expect(single.takePendingOutput() == (try oneByOne(.server)))
    }

    @Test("a client masks and a compressing server compresses: each text is framed anew")
    func othersFrameAgain() throws {
        let encoded = EncodedTextMessages(texts)
        var client = session(.client)
        try client.sendText(encoded)
        let masked = client.takePendingOutput()
        #expect(masked == (try oneByOne(.client)))
        #expect(masked != encoded.serverFrames, "positive control: masked frames differ from the shared ones")
        let deflate = PerMessageDeflate(parameters: .init(), isServer: true, configuration: .init())
        var compressing = session(.server, deflate: deflate)
        try compressing.sendText(encoded)
        let compressed = compressing.takePendingOutput()
        #expect(compressed == (try oneByOne(.server, deflate: deflate)))
        #expect(compressed.count < (encoded.serverFrames?.count ?? 0))
    }

    @Test("a session that sent its close frame refuses them")
    func closedRefuses() {
        var server = session(.server)
        server.close()
        #expect(throws: WebSocketSession.SendError.closed) { try server.sendText(EncodedTextMessages(texts)) }
    }
}
