import ConnectionCore
import Testing
@testable import MQTT

/// ``MQTTCodec`` and ``MQTTConnectHandshake`` as values: bytes in, events and verdicts out.
@Suite("MQTT codec and CONNECT handshake")
struct MQTTCodecTests {
    /// Feeds `bytes` to a codec in pieces cut at `cuts` and returns what it reported.
    static func events(_ bytes: [UInt8], cuts: [Int] = [], codec: inout MQTTCodec) -> [String] {
        var events: [CodecEvent] = []
        var start = 0
        for end in cuts + [bytes.count] where end >= start {
            var piece = Array(bytes[start..<end])
            piece.withUnsafeMutableBytes { codec.receive($0, into: &events) }
            start = end
        }
        return events.flatMap { event -> [String] in
            switch event {
            case .message(let packets as [MQTTPacket], _): packets.map(\.name)
            case .message: ["?"]
            case .probeAnswered(let id): ["probe \(id)"]
            case .inputEnded: ["end"]
            case .failed(let error): ["failed: \(error)"]
            }
        }
    }

    static func bytes(_ packets: MQTTPacket...) throws -> [UInt8] {
        try packets.flatMap { try $0.encoded() }
    }

    @Test("packets split at every byte boundary come out whole and in order; PINGRESP answers the oldest probe, in its place")
    func splitAnywhere() throws {
        let stream = try Self.bytes(.subAck(packetID: 1, returnCodes: [.granted(.atLeastOnce)]),
                                    .publish(MQTTPublish(topic: "a/b", payload: [1, 2, 3], qos: .atLeastOnce, packetID: 7)),
                                    .pingResp, .pubAck(packetID: 2), .pingResp)
        for cut in 0...stream.count {
            var codec = MQTTCodec(maximumPacketSize: 1024)
            let first = codec.sendProbe(id: 10)
            let second = codec.sendProbe(id: 11)
            #expect(first && second)
            let output = codec.takeOutput()
            #expect(output == [0xC0, 0x00, 0xC0, 0x00], "two PINGREQs")
            let events = Self.events(stream, cuts: [cut], codec: &codec)
            #expect(events == ["SUBACK", "PUBLISH", "probe 10", "PUBACK", "probe 11"], "cut at \(cut)")
        }
    }

    @Test("a malformed packet: the packets before it are delivered, then the failure, and nothing after is read")
    func malformed() throws {
        var stream = try Self.bytes(.pubAck(packetID: 3))
        stream += [0x40, 0x02, 0x00, 0x00]  // PUBACK with packet identifier 0
        stream += try Self.bytes(.pubAck(packetID: 4))
        var codec = MQTTCodec(maximumPacketSize: 1024)
        let events = Self.events(stream, codec: &codec)
        #expect(events.count == 2)
        #expect(events.first == "PUBACK")
        #expect(events.last?.hasPrefix("failed: malformed") == true)
        #expect(!codec.isReading)
        // Control: the same stream without the bad packet reads both.
        var control = MQTTCodec(maximumPacketSize: 1024)
        let controlEvents = Self.events(try Self.bytes(.pubAck(packetID: 3), .pubAck(packetID: 4)), codec: &control)
        #expect(controlEvents == ["PUBACK", "PUBACK"])
    }

    @Test("a packet over the limit fails as soon as its header says so")
    func tooLarge() throws {
        var codec = MQTTCodec(maximumPacketSize: 16)
        let big = try Self.bytes(.publish(MQTTPublish(topic: "t", payload: Array(repeating: 1, count: 32))))
        let events = Self.events(Array(big.prefix(2)), codec: &codec)
        #expect(events == ["failed: \(MQTTPacketError.packetTooLarge(35))"])
    }

    @Test("closing queues DISCONNECT once; nothing is sent after it")
    func closing() throws {
        var codec = MQTTCodec(maximumPacketSize: 1024)
        try codec.queue(.pubAck(packetID: 1))
        codec.startClose("bye")
        codec.startClose("again")
        #expect(codec.takeOutput() == [0x40, 0x02, 0x00, 0x01, 0xE0, 0x00])
        var refused: ConnectionError?
        do { try codec.queue(.pubAck(packetID: 2)) } catch { refused = error }
        #expect(refused == .closed)
        let probed = codec.sendProbe(id: 1)
        #expect(!probed)
        #expect(codec.isClosed)
    }

    @Test("the handshake sends CONNECT, takes a CONNACK split anywhere and hands what follows to the codec")
    func handshakeAccepted() throws {
        let connect = MQTTConnect(clientID: "c1", cleanSession: false, keepAlive: 30, username: "u", password: Array("p".utf8))
        let reply = try Self.bytes(.connAck(MQTTConnAck(sessionPresent: true, returnCode: .accepted)),
                                   .publish(MQTTPublish(topic: "x", payload: [9])))
        for cut in 0...reply.count {
            var handshake = try MQTTConnectHandshake(connect: connect)
            #expect(handshake.initialOutput() == (try MQTTPacket.connect(connect).encoded()))
            var verdict = reply.prefix(cut).withUnsafeBytes { handshake.receive($0) }
            if cut < 4 {
                guard case .needMore = verdict else { Issue.record("cut \(cut): done early"); continue }
                verdict = reply.dropFirst(cut).withUnsafeBytes { handshake.receive($0) }
            }
            guard case .complete(let sent, let leftover, let result) = verdict else {
                Issue.record("cut \(cut): \(verdict)")
                continue
            }
            #expect(sent.isEmpty)
            // Fed in one piece up to the cut: what came after the CONNACK in the piece that
            // completed it.
            #expect(leftover == (cut < 4 ? Array(reply.dropFirst(4)) : Array(reply[4..<cut])), "cut \(cut)")
            #expect(result as? MQTTConnAck == MQTTConnAck(sessionPresent: true, returnCode: .accepted))
        }
    }

    @Test("the handshake fails on a refusing CONNACK, a session present for a clean session, and any other first packet", arguments: [
        (MQTTPacket.connAck(MQTTConnAck(sessionPresent: false, returnCode: .notAuthorized)), MQTTClientError.refused(.notAuthorized)),
        (MQTTPacket.connAck(MQTTConnAck(sessionPresent: false, returnCode: .identifierRejected)), MQTTClientError.refused(.identifierRejected)),
        (MQTTPacket.connAck(MQTTConnAck(sessionPresent: true, returnCode: .accepted)), MQTTClientError.protocolViolation("CONNACK says a session is present for a clean session")),
        (MQTTPacket.pingResp, MQTTClientError.protocolViolation("the broker's first packet is PINGRESP, not CONNACK")),
        (MQTTPacket.publish(MQTTPublish(topic: "x", payload: [])), MQTTClientError.protocolViolation("the broker's first packet is not a CONNACK")),
    ])
    func handshakeRefused(packet: MQTTPacket, expected: MQTTClientError) throws {
        var handshake = try MQTTConnectHandshake(connect: MQTTConnect(clientID: "c"))
        let verdict = try packet.encoded().withUnsafeBytes { handshake.receive($0) }
        guard case .failed(let reply, let error) = verdict else {
            Issue.record("not refused: \(verdict)")
            return
        }
        #expect(reply.isEmpty)
        #expect(error as? MQTTClientError == expected)
    }
}
