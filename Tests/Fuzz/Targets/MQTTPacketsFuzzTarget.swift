import ConnectionCore
import MQTT

/// Fuzzing of the MQTT 3.1.1 packet decoder (what a client parses from a broker).
///
/// Input: the first byte chooses a split point and a size limit; the rest is a stream from
/// the peer. Checks: the decoder gives the same packets (and the same failure, or none) whole,
/// split in two and byte by byte; every packet it decodes encodes again (the decoder accepts
/// nothing the encoder refuses) to bytes that decode to the same packet, and those bytes are
/// the packet's exact bytes in the stream (so its encoding is canonical) unless the peer used
/// a longer remaining-length encoding than needed. The client's side then takes the same
/// stream: the connection's codec reports the same packets (PINGRESP as probe answers) and the
/// same failure, split at the same point; a session with requests of its own in flight reacts
/// to every packet without trapping, delivers a QoS 2 message once until its PUBREL, and
/// answers what it owes (PUBACK, PUBREC, PUBCOMP).
enum MQTTPacketsFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let (seed, stream, cut) = splitPoint(input) else { return }
        let limit = seed & 0x80 == 0 ? 1 << 20 : Int(seed & 0x7F) * 8

        let whole = decodeAll([stream[...]], limit: limit)
        let split = decodeAll([stream[..<cut], stream[cut...]], limit: limit)
        let byteByByte = decodeAll(stream.indices.map { stream[$0...$0] }, limit: limit)
        precondition(whole.packets == split.packets && whole.packets == byteByByte.packets, "packets depend on the split")
        precondition(whole.failure == split.failure && whole.failure == byteByByte.failure, "the failure depends on the split: \(String(describing: whole.failure)), \(String(describing: split.failure)), \(String(describing: byteByByte.failure))")

        var offset = 0
        for packet in whole.packets {
            let encoded: [UInt8]
            do {
                encoded = try packet.encoded()
            } catch {
                preconditionFailure("decoded \(packet) but cannot encode it: \(error)")
            }
            var decoder = MQTTPacketDecoder(maximumPacketSize: 1 << 20)
            let again = try? decoder.decode(encoded)
            precondition(again == [packet], "\(packet) does not survive encode and decode")
            let length = packetLength(stream, at: offset)
            if length == encoded.count {
                precondition(Array(stream[offset..<offset + length]) == encoded, "\(packet) re-encodes to other bytes")
            }
            offset += length
        }
        checkClientSide(stream, cut: cut, limit: limit, expected: whole)
    }

    /// The codec over the stream in two pieces, and a session fed what it reports.
    private static func checkClientSide(_ stream: [UInt8], cut: Int, limit: Int, expected: (packets: [MQTTPacket], failure: MQTTPacketError?)) {
        var codec = MQTTCodec(maximumPacketSize: limit)
        var events: [CodecEvent] = []
        for piece in [Array(stream[..<cut]), Array(stream[cut...])] {
            var bytes = piece
            bytes.withUnsafeMutableBytes { codec.receive($0, into: &events) }
        }
        var packets: [MQTTPacket] = []
        var failure: MQTTPacketError?
        var probeAnswers = 0
        for event in events {
            switch event {
            case .message(let batch as [MQTTPacket], _): packets += batch
            case .failed(let error as MQTTPacketError): failure = error
            case .probeAnswered: probeAnswers += 1
            default: preconditionFailure("the codec reported \(event)")
            }
        }
        precondition(packets == expected.packets.filter { $0 != .pingResp }, "the codec's packets differ from the decoder's")
        precondition(failure == expected.failure, "the codec's failure differs from the decoder's")
        precondition(probeAnswers == 0, "a probe answered that was never sent")

        var session = MQTTSession()
        _ = try? session.publish(MQTTPublish(topic: "a", payload: [1], qos: .atLeastOnce))
        _ = try? session.publish(MQTTPublish(topic: "b", payload: [2], qos: .exactlyOnce))
        _ = try? session.subscribe([MQTTSubscription(filter: "c/#", qos: .exactlyOnce)])
        // A model of exactly-once delivery: a QoS 2 message is delivered when its identifier
        // is not awaiting PUBREL, and never again until the PUBREL.
        var awaitingRelease: Set<UInt16> = []
        for packet in packets {
            guard let reaction = try? session.receive(packet) else { break }
            switch packet {
            case .publish(let message) where message.qos == .exactlyOnce:
                guard let id = message.packetID else { preconditionFailure("a QoS 2 PUBLISH without an identifier was decoded") }
                precondition((reaction.deliver != nil) == !awaitingRelease.contains(id), "QoS 2 message \(id) delivered twice, or not at all")
                precondition(reaction.send == [.pubRec(packetID: id)], "QoS 2 message \(id) answered with \(reaction.send)")
                awaitingRelease.insert(id)
            case .publish(let message) where message.qos == .atLeastOnce:
                guard let id = message.packetID else { preconditionFailure("a QoS 1 PUBLISH without an identifier was decoded") }
                precondition(reaction.deliver != nil && reaction.send == [.pubAck(packetID: id)], "a QoS 1 PUBLISH is delivered and acknowledged")
            case .pubRel(let id):
                awaitingRelease.remove(id)
                precondition(reaction.send == [.pubComp(packetID: id)], "PUBREL \(id) answered with \(reaction.send)")
            default:
                break
            }
        }
        // What a reconnect resends: only this session's own messages, each marked DUP (or a
        // PUBREL), with the identifiers still in use.
        _ = session.connectionLost()
        for packet in session.resume(sessionPresent: true) {
            switch packet {
            case .publish(let message): precondition(message.dup && message.qos != .atMostOnce && ["a", "b"].contains(message.topic), "resent \(message)")
            case .pubRel: break
            default: preconditionFailure("a reconnect resends \(packet)")
            }
        }
    }

    /// Every packet the parts yield, fed in order, and the failure that stopped them.
    private static func decodeAll(_ parts: [ArraySlice<UInt8>], limit: Int) -> (packets: [MQTTPacket], failure: MQTTPacketError?) {
        var decoder = MQTTPacketDecoder(maximumPacketSize: limit)
        var packets: [MQTTPacket] = []
        for part in parts {
            decoder.append(part)
            do {
                while let packet = try decoder.next() { packets.append(packet) }
            } catch {
                return (packets, error)
            }
        }
        return (packets, nil)
    }

    /// The length of the (complete, decoded) packet at `offset`: fixed header, remaining
    /// length bytes and body.
    private static func packetLength(_ stream: [UInt8], at offset: Int) -> Int {
        var index = offset + 1
        var length = 0
        var multiplier = 1
        while true {
            let byte = stream[index]
            length += Int(byte & 0x7F) * multiplier
            multiplier *= 128
            index += 1
            if byte & 0x80 == 0 { break }
        }
        return index - offset + length
    }
}
