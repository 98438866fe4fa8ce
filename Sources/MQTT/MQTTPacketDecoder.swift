/// Turns a byte stream into MQTT 3.1.1 packets: sans-I/O, fed whatever a read brought (a
/// packet may be split anywhere, or many may arrive at once).
///
/// Every rule of the spec that a receiver can check on one packet is checked (fixed-header
/// flags, remaining-length encoding, UTF-8 strings, non-zero packet identifiers, return codes,
/// topic names and filters, nothing left over); a violation throws
/// ``MQTTPacketError/malformed(_:)``, after which the connection must be closed and this
/// decoder not used again. A packet longer than `maximumPacketSize` throws
/// ``MQTTPacketError/packetTooLarge(_:)`` as soon as its header says so, before its body is
/// buffered.
package struct MQTTPacketDecoder: Sendable {
    /// The largest remaining length accepted.
    package let maximumPacketSize: Int
    private var buffer: [UInt8] = []
    private var head = 0

    /// A decoder accepting packets of up to `maximumPacketSize` bytes after the fixed header
    /// (at most MQTT's own limit, ``MQTTPacket/maxRemainingLength``).
    package init(maximumPacketSize: Int = 1 << 20) {
        self.maximumPacketSize = min(max(0, maximumPacketSize), MQTTPacket.maxRemainingLength)
    }

    /// Bytes received and not yet decoded into a packet.
    package var bufferedBytes: Int { buffer.count - head }

    /// Takes the bytes received and not decoded yet (a connection's handshake hands what came
    /// after its last packet to the codec that follows).
    package mutating func takeBuffered() -> [UInt8] {
        defer {
            buffer = []
            head = 0
        }
        return Array(buffer[head...])
    }

    /// Appends received bytes; take the packets with ``next()``.
    package mutating func append(_ bytes: some Sequence<UInt8>) {
        if head > 0 && head == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            head = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete packet, or nil until more bytes arrive.
    package mutating func next() throws(MQTTPacketError) -> MQTTPacket? {
        guard let header = try fixedHeader() else { return nil }
        let end = header.bodyStart + header.length
        guard buffer.count >= end else { return nil }
        let packet = try Self.parse(type: header.type, flags: header.flags, body: buffer[header.bodyStart..<end])
        head = end
        if head >= 4096 && head * 2 >= buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
        return packet
    }

    /// Appends `bytes` and returns every packet now complete. A malformed packet throws, and
    /// the packets before it in `bytes` are not returned: a receiver that must act on those
    /// (as a connection does) uses ``append(_:)`` and ``next()``.
    package mutating func decode(_ bytes: some Sequence<UInt8>) throws(MQTTPacketError) -> [MQTTPacket] {
        append(bytes)
        var packets: [MQTTPacket] = []
        while let packet = try next() { packets.append(packet) }
        return packets
    }

    /// The type, flags, remaining length and where the body starts, once the fixed header is
    /// complete; checks what can be checked before the body is there.
    private func fixedHeader() throws(MQTTPacketError) -> (type: UInt8, flags: UInt8, length: Int, bodyStart: Int)? {
        guard head < buffer.count else { return nil }
        let first = buffer[head]
        let type = first >> 4
        let flags = first & 0x0F
        try Self.checkFlags(type: type, flags: flags)
        var length = 0
        var multiplier = 1
        var index = head + 1
        while true {
            guard index < buffer.count else { return nil }
            let byte = buffer[index]
            length += Int(byte & 0x7F) * multiplier
            index += 1
            if byte & 0x80 == 0 { break }
            guard index - head - 1 < 4 else { throw .malformed("remaining length longer than four bytes") }
            multiplier *= 128
        }
        guard length <= maximumPacketSize else { throw .packetTooLarge(length) }
        return (type, flags, length, index)
    }

    /// The fixed header's flags each packet type must carry (MQTT 3.1.1, 2.2.2).
    private static func checkFlags(type: UInt8, flags: UInt8) throws(MQTTPacketError) {
        switch type {
        case 3:
            guard flags & 0b0110 != 0b0110 else { throw .malformed("PUBLISH with QoS 3") }
            guard flags & 0b0110 != 0 || flags & 0b1000 == 0 else { throw .malformed("PUBLISH with QoS 0 and DUP set") }
        case 6, 8, 10:
            guard flags == 0b0010 else { throw .malformed("packet type \(type) with flags \(flags) (must be 2)") }
        case 1, 2, 4, 5, 7, 9, 11, 12, 13, 14:
            guard flags == 0 else { throw .malformed("packet type \(type) with flags \(flags) (must be 0)") }
        default:
            throw .malformed("reserved packet type \(type)")
        }
    }

    private static func parse(type: UInt8, flags: UInt8, body: ArraySlice<UInt8>) throws(MQTTPacketError) -> MQTTPacket {
        var reader = MQTTWireReader(body)
        let packet: MQTTPacket
        switch type {
        case 1: packet = .connect(try parseConnect(&reader))
        case 2:
            let acknowledge = try reader.byte("CONNACK flags")
            guard acknowledge & 0xFE == 0 else { throw .malformed("CONNACK reserved flags set") }
            let code = try reader.byte("CONNACK return code")
            guard let returnCode = MQTTConnectReturnCode(rawValue: code) else { throw .malformed("CONNACK return code \(code)") }
            guard returnCode == .accepted || acknowledge == 0 else { throw .malformed("CONNACK refusal with session present") }
            packet = .connAck(MQTTConnAck(sessionPresent: acknowledge == 1, returnCode: returnCode))
        case 3: packet = .publish(try parsePublish(flags: flags, &reader))
        case 4: packet = .pubAck(packetID: try reader.packetID())
        case 5: packet = .pubRec(packetID: try reader.packetID())
        case 6: packet = .pubRel(packetID: try reader.packetID())
        case 7: packet = .pubComp(packetID: try reader.packetID())
        case 8:
            let id = try reader.packetID()
            var subscriptions: [MQTTSubscription] = []
            repeat {
                let filter = try reader.string("topic filter")
                guard MQTTTopic.isValidFilter(filter) else { throw .malformed("invalid topic filter \"\(filter)\"") }
                let requested = try reader.byte("requested QoS")
                guard let qos = MQTTQoS(rawValue: requested) else { throw .malformed("requested QoS byte \(requested)") }
                subscriptions.append(MQTTSubscription(filter: filter, qos: qos))
            } while reader.remaining > 0
            packet = .subscribe(packetID: id, subscriptions: subscriptions)
        case 9:
            let id = try reader.packetID()
            var codes: [MQTTSubscribeReturnCode] = []
            repeat {
                let code = try reader.byte("SUBACK return code")
                if code == 0x80 {
                    codes.append(.failure)
                } else if let qos = MQTTQoS(rawValue: code) {
                    codes.append(.granted(qos))
                } else {
                    throw .malformed("SUBACK return code \(code)")
                }
            } while reader.remaining > 0
            packet = .subAck(packetID: id, returnCodes: codes)
        case 10:
            let id = try reader.packetID()
            var filters: [String] = []
            repeat {
                let filter = try reader.string("topic filter")
                guard MQTTTopic.isValidFilter(filter) else { throw .malformed("invalid topic filter \"\(filter)\"") }
                filters.append(filter)
            } while reader.remaining > 0
            packet = .unsubscribe(packetID: id, filters: filters)
        case 11: packet = .unsubAck(packetID: try reader.packetID())
        case 12: packet = .pingReq
        case 13: packet = .pingResp
        default: packet = .disconnect  // 14: checkFlags let nothing else through
        }
        try reader.expectEnd(packet.name)
        return packet
    }

    private static func parseConnect(_ reader: inout MQTTWireReader) throws(MQTTPacketError) -> MQTTConnect {
        let name = try reader.string("protocol name")
        guard name == "MQTT" else { throw .malformed("protocol name \"\(name)\" (MQTT 3.1.1 is \"MQTT\")") }
        let level = try reader.byte("protocol level")
        guard level == 4 else { throw .malformed("protocol level \(level) (MQTT 3.1.1 is 4)") }
        let flags = try reader.byte("connect flags")
        guard flags & 0x01 == 0 else { throw .malformed("CONNECT reserved flag set") }
        let hasWill = flags & 0x04 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let willRetain = flags & 0x20 != 0
        guard let willQoS = MQTTQoS(rawValue: willQoSBits) else { throw .malformed("will QoS 3") }
        guard hasWill || (willQoSBits == 0 && !willRetain) else { throw .malformed("will QoS or retain without a will") }
        let hasUsername = flags & 0x80 != 0
        let hasPassword = flags & 0x40 != 0
        guard hasUsername || !hasPassword else { throw .malformed("password without a user name") }
        let keepAlive = try reader.uint16("keep alive")
        let clientID = try reader.string("client identifier")
        // A server would answer CONNACK 2 (MQTT-3.1.3-8); as the encoder, this decoder refuses it.
        guard !clientID.isEmpty || flags & 0x02 != 0 else { throw .malformed("empty client identifier without a clean session") }
        var will: MQTTWill?
        if hasWill {
            let topic = try reader.string("will topic")
            guard MQTTTopic.isValidName(topic) else { throw .malformed("invalid will topic \"\(topic)\"") }
            will = MQTTWill(topic: topic, payload: try reader.binary("will message"), qos: willQoS, retain: willRetain)
        }
        let username = hasUsername ? try reader.string("user name") : nil
        let password = hasPassword ? try reader.binary("password") : nil
        return MQTTConnect(clientID: clientID, cleanSession: flags & 0x02 != 0, keepAlive: keepAlive, will: will,
                           username: username, password: password)
    }

    private static func parsePublish(flags: UInt8, _ reader: inout MQTTWireReader) throws(MQTTPacketError) -> MQTTPublish {
        let qos = MQTTQoS(rawValue: (flags >> 1) & 0x03) ?? .atMostOnce  // 3 was refused with the flags
        let topic = try reader.string("topic name")
        guard MQTTTopic.isValidName(topic) else { throw .malformed("invalid topic name \"\(topic)\"") }
        let packetID = qos == .atMostOnce ? nil : try reader.packetID()
        return MQTTPublish(topic: topic, payload: reader.rest(), qos: qos, retain: flags & 0x01 != 0,
                           dup: flags & 0x08 != 0, packetID: packetID)
    }
}
