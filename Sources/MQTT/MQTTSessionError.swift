/// Why the session refused a request or a broker packet.
package enum MQTTSessionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// All 65,535 packet identifiers are in use by messages and requests in flight.
    case noPacketIdentifier
    /// The broker broke the protocol (the reason says how): close the connection.
    case protocolViolation(String)

    package var description: String {
        switch self {
        case .noPacketIdentifier: "all 65,535 MQTT packet identifiers are in use"
        case .protocolViolation(let reason): "MQTT protocol violation by the broker: \(reason)"
        }
    }
}
