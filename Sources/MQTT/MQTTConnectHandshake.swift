import ConnectionCore

/// The opening of an MQTT 3.1.1 connection: CONNECT out as soon as TCP is up, and the
/// broker's first packet, which must be a CONNACK (MQTT-3.2.0-1), in. Accepted: the
/// connection's result is the ``MQTTConnAck`` (its session-present flag), and what followed
/// it goes to the ``MQTTCodec``. Refused (a non-zero return code), anything else first, or a
/// session present for a clean session: the open fails with ``MQTTClientError/refused(_:)``
/// or ``MQTTClientError/protocolViolation(_:)``.
package struct MQTTConnectHandshake: StreamHandshake {
    private let connect: [UInt8]
    private let cleanSession: Bool
    private var decoder: MQTTPacketDecoder

    /// A handshake sending `connect`; the packet must encode (the client checks it first).
    package init(connect: MQTTConnect) throws(MQTTPacketError) {
        self.connect = try MQTTPacket.connect(connect).encoded()
        cleanSession = connect.cleanSession
        // A CONNACK has 2 bytes after its header: anything announcing more is not one.
        decoder = MQTTPacketDecoder(maximumPacketSize: 2)
    }

    package func initialOutput() -> [UInt8] { connect }

    package mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress {
        decoder.append(input)
        let packet: MQTTPacket?
        do throws(MQTTPacketError) {
            packet = try decoder.next()
        } catch .packetTooLarge {
            return .failed(reply: [], error: MQTTClientError.protocolViolation("the broker's first packet is not a CONNACK"))
        } catch {
            return .failed(reply: [], error: MQTTClientError.protocolViolation(error.description))
        }
        switch packet {
        case nil:
            return .needMore
        case .connAck(let answer) where answer.returnCode == .accepted && answer.sessionPresent && cleanSession:
            // A clean session has nothing to resume; the client must close (MQTT-3.2.2-4).
            return .failed(reply: [], error: MQTTClientError.protocolViolation("CONNACK says a session is present for a clean session"))
        case .connAck(let answer) where answer.returnCode == .accepted:
            return .complete(reply: [], leftover: decoder.takeBuffered(), result: answer)
        case .connAck(let answer):
            return .failed(reply: [], error: MQTTClientError.refused(answer.returnCode))
        case let other?:
            return .failed(reply: [], error: MQTTClientError.protocolViolation("the broker's first packet is \(other.name), not CONNACK"))
        }
    }
}
