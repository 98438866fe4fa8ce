/// A PUBLISH packet (MQTT 3.1.1, 3.3), either direction.
package struct MQTTPublish: Sendable, Equatable {
    /// The topic name (no wildcards).
    package var topic: String
    /// The application message.
    package var payload: [UInt8]
    /// Its quality of service.
    package var qos: MQTTQoS
    /// Retained by the broker (to the client: a retained message, sent at subscription).
    package var retain: Bool
    /// A resend of a packet that may have been received before (QoS 1 and 2 only).
    package var dup: Bool
    /// The packet identifier: present (non-zero) exactly when `qos` is above 0.
    package var packetID: UInt16?

    package init(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false, dup: Bool = false,
                 packetID: UInt16? = nil) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetID = packetID
    }
}
