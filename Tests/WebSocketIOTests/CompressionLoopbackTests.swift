import Testing
import TestSupport
import TCPTransport
@testable import WebSocketCore
@testable import WebSocketIO

@Suite("permessage-deflate over loopback", .timeLimit(.minutes(1)))
struct CompressionLoopbackTests {
    let deflating = WebSocketConfiguration(limits: .init(maxFrameSize: 2 << 20, maxMessageSize: 2 << 20), deflate: .init())

    @Test("our client and server agree on compression and echo messages of every size intact")
    func echoCompressed() async throws {
        let (server, task) = try startEchoServer(configuration: deflating)
        defer { server.stop(); task.cancel() }
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port, configuration: deflating)
        #expect(client.handshakeHead["Sec-WebSocket-Extensions"] == "permessage-deflate")
        var generator = SeededGenerator(seed: 7)
        for size in [0, 1, 125, 126, 65535, 65536, 1 << 20] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = String(repeating: "{\"sensor\":\"A01-S1\",\"value\":21.5}", count: size / 32 + 1)
            try await client.send(binary: bytes)
            try await client.send(text: text)
            #expect(await client.receive() == .binary(bytes), "binary \(size)")
            #expect(await client.receive() == .text(text), "text \(size)")
        }
        #expect(await client.close().isClean)
    }

    @Test("a client offering to a server without compression goes on uncompressed; so does a server asked by a plain client")
    func declined() async throws {
        let (plainServer, plainTask) = try startEchoServer()
        defer { plainServer.stop(); plainTask.cancel() }
        let offering = try await WebSocketConnection.connect(host: "127.0.0.1", port: plainServer.port, configuration: deflating)
        #expect(offering.handshakeHead["Sec-WebSocket-Extensions"] == nil)
        try await offering.send(text: "plain")
        #expect(await offering.receive() == .text("plain"))
        await offering.close()

        let (server, task) = try startEchoServer(configuration: deflating)
        defer { server.stop(); task.cancel() }
        let plain = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port)
        #expect(plain.handshakeHead["Sec-WebSocket-Extensions"] == nil)
        try await plain.send(text: "plain")
        #expect(await plain.receive() == .text("plain"))
        await plain.close()
    }

    @Test("on the wire: the server answers the offer and echoes RFC 7692's compressed \"Hello\" byte for byte")
    func wireBytes() async throws {
        let (server, task) = try startEchoServer(configuration: deflating)
        defer { server.stop(); task.cancel() }
        let handshake = ClientHandshake(host: "127.0.0.1", port: server.port, path: "/", deflate: .init())
        let (head, echoed, plainEcho) = try await onThread {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { peer.close() }
            try peer.write(handshake.request)
            let head = try peer.readHead()
            // RFC 7692 section 7.2.3.1's "Hello", masked as a client must.
            try peer.write(frameBytes(opcode: .text, rsv: 0b100, payload: [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))
            let echoed = try peer.read(count: 9)
            // Positive control: an uncompressed message is echoed compressed with the shared window.
            try peer.write(frameBytes(opcode: .text, rsv: 0, payload: Array("Hello".utf8)))
            let plainEcho = try peer.read(count: 7)
            return (head, echoed, plainEcho)
        }
        #expect(try handshake.validate(head) == PerMessageDeflateParameters())
        #expect(echoed == [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        #expect(plainEcho == [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00])
    }

    @Test("a compression bomb closes the connection with 1009 and the server stays healthy")
    func bombOverLoopback() async throws {
        let small = WebSocketConfiguration(limits: .init(maxFrameSize: 1 << 16, maxMessageSize: 1 << 16), deflate: .init())
        let (server, task) = try startEchoServer(configuration: small)
        defer { server.stop(); task.cancel() }
        var sender = WebSocketSession(role: .client, deflate: PerMessageDeflate(parameters: .init(), isServer: false, configuration: .init()))
        try sender.sendBinary([UInt8](repeating: 0, count: 4 << 20))
        let bomb = sender.takePendingOutput()
        #expect(bomb.count < 1 << 16, "the bomb itself fits the frame limit")
        let handshake = ClientHandshake(host: "127.0.0.1", port: server.port, path: "/", deflate: .init())
        let reply = try await onThread {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { peer.close() }
            try peer.write(handshake.request)
            _ = try peer.readHead()
            try peer.write(bomb)
            return try peer.read(count: 4)
        }
        #expect(Array(reply.prefix(4)) == [0x88, reply.count > 1 ? reply[1] : 0, 0x03, 0xF1], "close 1009")
        // The server still serves others.
        let client = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port, configuration: small)
        try await client.send(text: "still here")
        #expect(await client.receive() == .text("still here"))
        await client.close()
    }
}

/// A masked client frame with the given reserved bits.
private func frameBytes(opcode: WebSocketOpcode, rsv: UInt8, payload: [UInt8]) -> [UInt8] {
    var output: [UInt8] = []
    FrameEncoder.append(opcode: opcode, reservedBits: rsv, payload: payload, maskingKey: WebSocketMaskingKey(1, 2, 3, 4), to: &output)
    return output
}
