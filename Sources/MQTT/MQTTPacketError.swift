/// Why bytes are not an MQTT 3.1.1 packet, or a packet cannot be encoded.
package enum MQTTPacketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer sent bytes that break the spec (the reason names the rule): the connection
    /// must be closed (MQTT 3.1.1, 4.8).
    case malformed(String)
    /// A packet's remaining length exceeds the decoder's limit (the length it announced).
    case packetTooLarge(Int)
    /// A packet built by the caller cannot be encoded (the reason says which field).
    case invalidArgument(String)

    package var description: String {
        switch self {
        case .malformed(let reason): "malformed MQTT packet: \(reason)"
        case .packetTooLarge(let length): "MQTT packet of \(length) bytes exceeds the limit"
        case .invalidArgument(let reason): "cannot encode MQTT packet: \(reason)"
        }
    }
}
