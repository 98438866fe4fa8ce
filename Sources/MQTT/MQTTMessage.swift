/// An application message: what a subscription delivers and what ``MQTTClient/publish(_:)``
/// sends.
public struct MQTTMessage: Sendable, Hashable {
    /// The topic name (no wildcards).
    public var topic: String
    /// The payload, as it travels.
    public var payload: [UInt8]
    /// The quality of service: the publisher's request, or for a delivered message the level
    /// it arrived with (the lower of the publisher's and the subscription's).
    public var qos: MQTTQoS
    /// Published as retained, or (delivered) a retained message sent because of a new
    /// subscription.
    public var retain: Bool

    /// A message.
    /// - Parameters:
    ///   - topic: The topic name.
    ///   - payload: The payload bytes.
    ///   - qos: The quality of service. Default at most once.
    ///   - retain: Whether the broker keeps it for future subscribers. Default false.
    public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// A message whose payload is `text` in UTF-8.
    /// - Parameters:
    ///   - topic: The topic name.
    ///   - text: The payload.
    ///   - qos: The quality of service. Default at most once.
    ///   - retain: Whether the broker keeps it for future subscribers. Default false.
    public init(topic: String, text: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.init(topic: topic, payload: Array(text.utf8), qos: qos, retain: retain)
    }

    /// The payload as UTF-8 text (invalid sequences replaced).
    public var text: String { String(decoding: payload, as: UTF8.self) }
}
