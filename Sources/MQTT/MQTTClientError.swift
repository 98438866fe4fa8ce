/// Why an ``MQTTClient`` call failed.
public enum MQTTClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A value the client cannot use (the reason says which): an invalid topic name or
    /// filter, a configuration out of range.
    case invalidArgument(String)
    /// The call needs ``MQTTClient/connect()`` first.
    case notConnected
    /// The first connection could not be opened (refused, unreachable, timed out, TLS).
    case connectionFailed(String)
    /// The broker refused the connection with this CONNACK return code.
    case refused(MQTTConnectReturnCode)
    /// The broker broke the protocol while the connection opened (a first packet that is not
    /// CONNACK, a session present for a clean session). Once connected, such a packet (a
    /// malformed one, an acknowledgement of nothing) closes the connection, which the client
    /// reopens; the reason is in its `reconnecting` state.
    case protocolViolation(String)
    /// The broker refused a subscription (SUBACK return code 0x80).
    case subscriptionRefused(filter: String)
    /// No answer within ``MQTTClient/Configuration/requestTimeout``. A QoS 1 or 2 message
    /// stays in the session and may still be delivered.
    case timeout
    /// ``MQTTClient/Configuration/offlineQueueLimit`` QoS 1 or 2 messages already wait for
    /// their acknowledgement: this one was not sent.
    case dropped
    /// The calling task was cancelled.
    case cancelled
    /// ``MQTTClient/disconnect()`` was called (or the client was released, or reconnecting
    /// gave up).
    case closed

    /// A readable explanation.
    public var description: String {
        switch self {
        case .invalidArgument(let reason): "invalid argument: \(reason)"
        case .notConnected: "not connected: call connect() first"
        case .connectionFailed(let reason): "connection failed: \(reason)"
        case .refused(let code): "refused by the broker: \(code)"
        case .protocolViolation(let reason): "protocol violation by the broker: \(reason)"
        case .subscriptionRefused(let filter): "the broker refused the subscription to \(filter)"
        case .timeout: "no answer in time"
        case .dropped: "dropped: the offline queue was full"
        case .cancelled: "cancelled"
        case .closed: "the client is closed"
        }
    }
}
