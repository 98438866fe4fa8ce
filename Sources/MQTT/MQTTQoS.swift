/// MQTT's quality of service levels (MQTT 3.1.1, 4.3).
public enum MQTTQoS: UInt8, Sendable, Comparable, CaseIterable {
    /// Delivered at most once: no acknowledgement, no retry.
    case atMostOnce = 0
    /// Delivered at least once: PUBLISH, PUBACK; resent (DUP) until acknowledged.
    case atLeastOnce = 1
    /// Delivered exactly once: PUBLISH, PUBREC, PUBREL, PUBCOMP.
    case exactlyOnce = 2

    /// Lower levels first.
    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}
