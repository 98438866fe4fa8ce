import Testing
@testable import MQTT

/// Every packet type's bytes, laid out by hand from MQTT 3.1.1 (sections 2 and 3), both ways
/// and split at every byte; every rule the decoder enforces, broken once; what the encoder
/// refuses.
@Suite("MQTT 3.1.1 packet codec")
struct MQTTPacketCodecTests {
    static func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// (name, packet, its exact bytes)
    static let vectors: [(String, MQTTPacket, [UInt8])] = [
        ("CONNECT, clean session, keep-alive 60",
         .connect(MQTTConnect(clientID: "abc", cleanSession: true, keepAlive: 60)),
         [0x10, 0x0F, 0x00, 0x04] + ascii("MQTT") + [0x04, 0x02, 0x00, 0x3C, 0x00, 0x03] + ascii("abc")),
        ("CONNECT with a QoS 1 retained will, user name and password, session kept",
         .connect(MQTTConnect(clientID: "c", cleanSession: false, keepAlive: 10,
                              will: MQTTWill(topic: "w", payload: ascii("x"), qos: .atLeastOnce, retain: true),
                              username: "u", password: ascii("p"))),
         [0x10, 0x19, 0x00, 0x04] + ascii("MQTT") + [0x04, 0xEC, 0x00, 0x0A,
                                                       0x00, 0x01] + ascii("c") + [0x00, 0x01] + ascii("w") + [0x00, 0x01] + ascii("x")
             + [0x00, 0x01] + ascii("u") + [0x00, 0x01] + ascii("p")),
        ("CONNACK, session present", .connAck(MQTTConnAck(sessionPresent: true, returnCode: .accepted)), [0x20, 0x02, 0x01, 0x00]),
        ("CONNACK, not authorized", .connAck(MQTTConnAck(sessionPresent: false, returnCode: .notAuthorized)), [0x20, 0x02, 0x00, 0x05]),
        ("PUBLISH QoS 0", .publish(MQTTPublish(topic: "a/b", payload: ascii("hi"))),
         [0x30, 0x07, 0x00, 0x03] + ascii("a/b") + ascii("hi")),
        ("PUBLISH QoS 1, retained, DUP",
         .publish(MQTTPublish(topic: "t", payload: ascii("x"), qos: .atLeastOnce, retain: true, dup: true, packetID: 10)),
         [0x3B, 0x06, 0x00, 0x01] + ascii("t") + [0x00, 0x0A] + ascii("x")),
        ("PUBLISH QoS 2, empty payload", .publish(MQTTPublish(topic: "t", payload: [], qos: .exactlyOnce, packetID: 0x1234)),
         [0x34, 0x05, 0x00, 0x01] + ascii("t") + [0x12, 0x34]),
        ("PUBLISH, a topic of two-byte UTF-8", .publish(MQTTPublish(topic: "température", payload: [0])),
         [0x30, 0x0F, 0x00, 0x0C] + ascii("température") + [0x00]),
        ("PUBACK", .pubAck(packetID: 1), [0x40, 0x02, 0x00, 0x01]),
        ("PUBREC", .pubRec(packetID: 2), [0x50, 0x02, 0x00, 0x02]),
        ("PUBREL", .pubRel(packetID: 3), [0x62, 0x02, 0x00, 0x03]),
        ("PUBCOMP", .pubComp(packetID: 0xFFFF), [0x70, 0x02, 0xFF, 0xFF]),
        ("SUBSCRIBE, two filters",
         .subscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: "a/+", qos: .atLeastOnce), MQTTSubscription(filter: "#", qos: .atMostOnce)]),
         [0x82, 0x0C, 0x00, 0x01, 0x00, 0x03] + ascii("a/+") + [0x01, 0x00, 0x01] + ascii("#") + [0x00]),
        ("SUBACK, granted 1 and refused", .subAck(packetID: 1, returnCodes: [.granted(.atLeastOnce), .failure]),
         [0x90, 0x04, 0x00, 0x01, 0x01, 0x80]),
        ("UNSUBSCRIBE", .unsubscribe(packetID: 2, filters: ["a/+"]), [0xA2, 0x07, 0x00, 0x02, 0x00, 0x03] + ascii("a/+")),
        ("UNSUBACK", .unsubAck(packetID: 2), [0xB0, 0x02, 0x00, 0x02]),
        ("PINGREQ", .pingReq, [0xC0, 0x00]),
        ("PINGRESP", .pingResp, [0xD0, 0x00]),
        ("DISCONNECT", .disconnect, [0xE0, 0x00]),
    ]

    @Test("each packet type encodes to its bytes and decodes from them, split at every byte boundary")
    func vectorsBothWays() throws {
        #expect(Set(Self.vectors.map(\.1.typeNumber)) == Set(1...14), "all fourteen types")
        for (name, packet, bytes) in Self.vectors {
            #expect(try packet.encoded() == bytes, "\(name): encoded")
            for split in 0...bytes.count {
                var decoder = MQTTPacketDecoder()
                var packets = try decoder.decode(bytes[..<split])
                packets += try decoder.decode(bytes[split...])
                #expect(packets == [packet], "\(name): split at \(split)")
                #expect(decoder.bufferedBytes == 0)
            }
        }
    }

    @Test("all packets in one stream, fed one byte at a time, come out whole and in order")
    func streamByteByByte() throws {
        let stream = Self.vectors.flatMap(\.2)
        var decoder = MQTTPacketDecoder()
        var packets: [MQTTPacket] = []
        for byte in stream { packets += try decoder.decode([byte]) }
        #expect(packets == Self.vectors.map(\.1))
        var whole = MQTTPacketDecoder()
        #expect(try whole.decode(stream) == Self.vectors.map(\.1), "and all at once")
    }

    @Test("remaining lengths at the edges of one, two, three and four bytes")
    func remainingLengths() throws {
        let cases: [(payload: Int, header: [UInt8])] = [
            (127 - 3, [0x7F]), (128 - 3, [0x80, 0x01]), (16_383 - 3, [0xFF, 0x7F]), (16_384 - 3, [0x80, 0x80, 0x01]),
            (2_097_151 - 3, [0xFF, 0xFF, 0x7F]), (2_097_152 - 3, [0x80, 0x80, 0x80, 0x01]),
        ]
        for (size, header) in cases {
            let packet = MQTTPacket.publish(MQTTPublish(topic: "t", payload: [UInt8](repeating: 7, count: size)))
            let bytes = try packet.encoded()
            #expect(Array(bytes[1..<(1 + header.count)]) == header, "remaining length \(size + 3)")
            var decoder = MQTTPacketDecoder(maximumPacketSize: 4 << 20)
            #expect(try decoder.decode(bytes) == [packet])
        }
    }

    /// Bytes that break one rule each, and the rule.
    static let malformed: [(String, [UInt8])] = [
        ("reserved type 0", [0x00, 0x00]),
        ("reserved type 15", [0xF0, 0x00]),
        ("PUBACK with flags", [0x41, 0x02, 0x00, 0x01]),
        ("PUBREL without its flags", [0x60, 0x02, 0x00, 0x01]),
        ("SUBSCRIBE without its flags", [0x80, 0x06, 0x00, 0x01, 0x00, 0x01] + ascii("a") + [0x00]),
        ("PUBLISH QoS 3", [0x36, 0x05, 0x00, 0x01] + ascii("t") + [0x00, 0x01]),
        ("PUBLISH QoS 0 with DUP", [0x38, 0x03, 0x00, 0x01] + ascii("t")),
        ("a remaining length of five bytes", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        ("packet identifier 0", [0x40, 0x02, 0x00, 0x00]),
        ("PUBLISH QoS 1 with packet identifier 0", [0x32, 0x05, 0x00, 0x01] + ascii("t") + [0x00, 0x00]),
        ("PUBACK too long", [0x40, 0x03, 0x00, 0x01, 0x00]),
        ("PUBACK too short", [0x40, 0x01, 0x00]),
        ("PINGRESP with a body", [0xD0, 0x01, 0x00]),
        ("CONNACK return code 6", [0x20, 0x02, 0x00, 0x06]),
        ("CONNACK reserved flag", [0x20, 0x02, 0x02, 0x00]),
        ("CONNACK refusal with a session", [0x20, 0x02, 0x01, 0x05]),
        ("topic of invalid UTF-8", [0x30, 0x04, 0x00, 0x02, 0xC3, 0x28]),
        ("topic with U+0000", [0x30, 0x05, 0x00, 0x03, 0x61, 0x00, 0x62]),
        ("a string longer than its packet", [0x30, 0x04, 0x00, 0x09, 0x61, 0x62]),
        ("empty topic name", [0x30, 0x02, 0x00, 0x00]),
        ("topic name with a wildcard", [0x30, 0x05, 0x00, 0x03] + ascii("a/+")),
        ("SUBSCRIBE without a subscription", [0x82, 0x02, 0x00, 0x01]),
        ("SUBSCRIBE requesting QoS 3", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01] + ascii("a") + [0x03]),
        ("SUBSCRIBE with bits above the QoS", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01] + ascii("a") + [0x41]),
        ("SUBSCRIBE to an invalid filter", [0x82, 0x07, 0x00, 0x01, 0x00, 0x02] + ascii("a#") + [0x00]),
        ("SUBACK return code 3", [0x90, 0x03, 0x00, 0x01, 0x03]),
        ("UNSUBSCRIBE without a filter", [0xA2, 0x02, 0x00, 0x01]),
        ("CONNECT of protocol MQIsdp", [0x10, 0x0F, 0x00, 0x06] + ascii("MQIsdp") + [0x03, 0x02, 0x00, 0x3C, 0x00, 0x01] + ascii("c")),
        ("CONNECT of protocol level 5", [0x10, 0x0D, 0x00, 0x04] + ascii("MQTT") + [0x05, 0x02, 0x00, 0x3C, 0x00, 0x01] + ascii("c")),
        ("CONNECT with an empty client identifier keeping a session", [0x10, 0x0C, 0x00, 0x04] + ascii("MQTT") + [0x04, 0x00, 0x00, 0x3C, 0x00, 0x00]),
        ("CONNECT reserved flag", [0x10, 0x0D, 0x00, 0x04] + ascii("MQTT") + [0x04, 0x03, 0x00, 0x3C, 0x00, 0x01] + ascii("c")),
        ("CONNECT password without user name", [0x10, 0x10, 0x00, 0x04] + ascii("MQTT") + [0x04, 0x42, 0x00, 0x3C, 0x00, 0x01] + ascii("c") + [0x00, 0x01] + ascii("p")),
        ("CONNECT will QoS without a will", [0x10, 0x0D, 0x00, 0x04] + ascii("MQTT") + [0x04, 0x0A, 0x00, 0x3C, 0x00, 0x01] + ascii("c")),
        ("CONNECT will QoS 3", [0x10, 0x13, 0x00, 0x04] + ascii("MQTT") + [0x04, 0x1E, 0x00, 0x3C, 0x00, 0x01] + ascii("c") + [0x00, 0x01] + ascii("w") + [0x00, 0x01] + ascii("x")),
    ]

    @Test("each broken rule is a malformed packet, fed whole or byte by byte; the bytes before it still decode")
    func malformedPackets() throws {
        let good = try MQTTPacket.pingResp.encoded()
        for (rule, bytes) in Self.malformed {
            var whole = MQTTPacketDecoder()
            #expect(throws: MQTTPacketError.self, "\(rule)") { _ = try whole.decode(bytes) }
            var byteByByte = MQTTPacketDecoder()
            var before: [MQTTPacket] = []
            var failed = false
            for byte in good + bytes {
                do {
                    before += try byteByByte.decode([byte])
                } catch {
                    guard case .malformed = error else { Issue.record("\(rule): \(error)"); break }
                    failed = true
                    break
                }
            }
            #expect(failed && before == [.pingResp], "\(rule): byte by byte, after one good packet")
        }
    }

    @Test("a packet over the limit is refused as soon as its header says so, before its body arrives")
    func sizeLimit() throws {
        var decoder = MQTTPacketDecoder(maximumPacketSize: 100)
        let fits = MQTTPacket.publish(MQTTPublish(topic: "t", payload: [UInt8](repeating: 1, count: 97)))
        #expect(try decoder.decode(try fits.encoded()) == [fits], "100 bytes after the header: accepted (positive control)")
        #expect(throws: MQTTPacketError.packetTooLarge(101)) { _ = try decoder.decode([0x30, 0x65]) }
    }

    @Test("the encoder refuses what a sender must not send, and appends nothing")
    func encoderRefusals() {
        let refused: [(String, MQTTPacket)] = [
            ("packet identifier 0", .pubAck(packetID: 0)),
            ("QoS 0 with a packet identifier", .publish(MQTTPublish(topic: "t", payload: [], packetID: 1))),
            ("QoS 1 without one", .publish(MQTTPublish(topic: "t", payload: [], qos: .atLeastOnce))),
            ("DUP on QoS 0", .publish(MQTTPublish(topic: "t", payload: [], dup: true))),
            ("a wildcard in a topic name", .publish(MQTTPublish(topic: "a/#", payload: []))),
            ("an empty topic name", .publish(MQTTPublish(topic: "", payload: []))),
            ("a topic of 65,536 bytes", .publish(MQTTPublish(topic: String(repeating: "a", count: 65_536), payload: []))),
            ("U+0000 in a client identifier", .connect(MQTTConnect(clientID: "a\u{0}b"))),
            ("a password without a user name", .connect(MQTTConnect(clientID: "c", password: [1]))),
            ("an empty client identifier keeping a session", .connect(MQTTConnect(clientID: "", cleanSession: false))),
            ("a will topic with a wildcard", .connect(MQTTConnect(clientID: "c", will: MQTTWill(topic: "+", payload: [])))),
            ("SUBSCRIBE without subscriptions", .subscribe(packetID: 1, subscriptions: [])),
            ("an invalid filter", .subscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: "a/#/b", qos: .atMostOnce)])),
            ("UNSUBSCRIBE without filters", .unsubscribe(packetID: 1, filters: [])),
            ("SUBACK without codes", .subAck(packetID: 1, returnCodes: [])),
            ("a refusing CONNACK with a session", .connAck(MQTTConnAck(sessionPresent: true, returnCode: .notAuthorized))),
        ]
        for (name, packet) in refused {
            var output: [UInt8] = [0xAA]
            #expect(throws: MQTTPacketError.self, "\(name)") { try packet.encode(into: &output) }
            #expect(output == [0xAA], "\(name): nothing appended")
        }
        var output: [UInt8] = []
        #expect(throws: Never.self) { try MQTTPacket.publish(MQTTPublish(topic: String(repeating: "a", count: 65_535), payload: [])).encode(into: &output) }
        #expect(output.count == 1 + 3 + 2 + 65_535, "the longest topic is accepted (positive control)")
    }
}
