import SensorWire

/// Something the hub did or saw, for logs and tests.
package enum HubEvent: Sendable, Hashable, CustomStringConvertible {
    case appConnected(peer: UInt64, address: String)
    case appMessage(peer: UInt64, ClientMessage)
    case agentConnected(peer: UInt64, name: String, sensors: [String])
    case peerDisconnected(peer: UInt64, closeCode: Int, reason: String)
    /// A message that is not JSON, not an envelope, or an unknown event: skipped.
    case skippedMessage(peer: UInt64, reason: String)
    /// A subscriber's backlog was full: readings for it were dropped.
    case readingsDropped(peer: UInt64, count: Int)
    /// A peer that never became a connection (bad handshake ...).
    case rejected(String)
    /// An agent refused (a wrong token), closed with 1008.
    case agentRefused(peer: UInt64, reason: String)
    /// Messages other than readings (`what`: statuses, answers, acknowledgements, commands)
    /// that `peer`'s output refused: more than its high-water mark waited.
    case messagesDropped(peer: UInt64, count: Int, what: String)
    /// A message its connection may not send (the other role's, a claim on another agent's
    /// sensor ...): closed with 1008, nothing of it applied.
    case protocolViolation(peer: UInt64, address: String, reason: String)

    package var description: String {
        switch self {
        case .appConnected(let peer, let address): "app #\(peer) connected from \(address)"
        case .appMessage(let peer, let message): "app #\(peer): \(SensorProtocol.encode(message.envelope))"
        case .agentConnected(let peer, let name, let sensors): "agent #\(peer) \(name) connected with \(sensors.count) sensors: \(sensors.joined(separator: ", "))"
        case .peerDisconnected(let peer, let code, let reason): "#\(peer) disconnected (close \(code)\(reason.isEmpty ? "" : ": \(reason)"))"
        case .skippedMessage(let peer, let reason): "#\(peer): skipped message: \(reason)"
        case .readingsDropped(let peer, let count): "#\(peer): subscriber too slow, dropped \(count) readings"
        case .rejected(let what): "rejected: \(what)"
        case .agentRefused(let peer, let reason): "agent #\(peer) refused (close 1008): \(reason)"
        case .messagesDropped(let peer, let count, let what): "#\(peer): output full, dropped \(count) \(what)"
        case .protocolViolation(let peer, let address, let reason): "#\(peer) (\(address)) closed (1008): \(reason)"
        }
    }
}
