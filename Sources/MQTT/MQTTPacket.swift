/// The fourteen control packets of MQTT 3.1.1 (section 2.2.1), decoded by
/// ``MQTTPacketDecoder`` and encoded by ``encode(into:)``. Plain values: no I/O.
package enum MQTTPacket: Sendable, Equatable {
    /// 1: client to broker, the first packet of a connection.
    case connect(MQTTConnect)
    /// 2: broker to client, the answer to CONNECT.
    case connAck(MQTTConnAck)
    /// 3: either direction, an application message.
    case publish(MQTTPublish)
    /// 4: acknowledges a QoS 1 PUBLISH.
    case pubAck(packetID: UInt16)
    /// 5: a QoS 2 PUBLISH received (step 1 of 3).
    case pubRec(packetID: UInt16)
    /// 6: a QoS 2 release (step 2 of 3).
    case pubRel(packetID: UInt16)
    /// 7: a QoS 2 delivery complete (step 3 of 3).
    case pubComp(packetID: UInt16)
    /// 8: client to broker, subscribe to one or more filters.
    case subscribe(packetID: UInt16, subscriptions: [MQTTSubscription])
    /// 9: broker to client, one return code per subscription, in order.
    case subAck(packetID: UInt16, returnCodes: [MQTTSubscribeReturnCode])
    /// 10: client to broker, unsubscribe from one or more filters.
    case unsubscribe(packetID: UInt16, filters: [String])
    /// 11: broker to client, the answer to UNSUBSCRIBE.
    case unsubAck(packetID: UInt16)
    /// 12: client to broker, keep-alive probe.
    case pingReq
    /// 13: broker to client, the answer to PINGREQ.
    case pingResp
    /// 14: client to broker, a clean disconnect (the will is discarded).
    case disconnect

    /// The packet type number of the fixed header (1...14).
    package var typeNumber: UInt8 {
        switch self {
        case .connect: 1
        case .connAck: 2
        case .publish: 3
        case .pubAck: 4
        case .pubRec: 5
        case .pubRel: 6
        case .pubComp: 7
        case .subscribe: 8
        case .subAck: 9
        case .unsubscribe: 10
        case .unsubAck: 11
        case .pingReq: 12
        case .pingResp: 13
        case .disconnect: 14
        }
    }

    /// The packet type's name in the spec, e.g. "PUBLISH".
    package var name: String {
        switch self {
        case .connect: "CONNECT"
        case .connAck: "CONNACK"
        case .publish: "PUBLISH"
        case .pubAck: "PUBACK"
        case .pubRec: "PUBREC"
        case .pubRel: "PUBREL"
        case .pubComp: "PUBCOMP"
        case .subscribe: "SUBSCRIBE"
        case .subAck: "SUBACK"
        case .unsubscribe: "UNSUBSCRIBE"
        case .unsubAck: "UNSUBACK"
        case .pingReq: "PINGREQ"
        case .pingResp: "PINGRESP"
        case .disconnect: "DISCONNECT"
        }
    }

    /// The largest remaining length MQTT can encode (four bytes of seven bits).
    package static let maxRemainingLength = 268_435_455
}
