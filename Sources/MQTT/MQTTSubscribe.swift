/// One topic filter of a SUBSCRIBE and the highest QoS the client wants on it.
package struct MQTTSubscription: Sendable, Equatable {
    /// The topic filter (`+` and `#` wildcards allowed).
    package var filter: String
    /// The maximum QoS of messages sent for it.
    package var qos: MQTTQoS

    package init(filter: String, qos: MQTTQoS) {
        self.filter = filter
        self.qos = qos
    }
}

/// SUBACK's answer for one subscription (MQTT 3.1.1, 3.9.3).
package enum MQTTSubscribeReturnCode: Sendable, Equatable {
    /// Granted, with the maximum QoS the broker will send.
    case granted(MQTTQoS)
    /// Refused (0x80).
    case failure
}
