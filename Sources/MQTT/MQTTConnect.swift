/// A client's CONNECT packet (MQTT 3.1.1, 3.1): protocol "MQTT", level 4.
package struct MQTTConnect: Sendable, Equatable {
    /// The client identifier; may be empty only with `cleanSession` (the broker assigns one).
    package var clientID: String
    /// Start a new session (true), or resume the broker's stored one (false).
    package var cleanSession: Bool
    /// Seconds between control packets the client promises; 0 turns keep-alive off.
    package var keepAlive: UInt16
    /// Published by the broker if the client goes away without DISCONNECT.
    package var will: MQTTWill?
    /// The user name, if any.
    package var username: String?
    /// The password (binary data), if any; needs a user name in MQTT 3.1.1.
    package var password: [UInt8]?

    package init(clientID: String, cleanSession: Bool = true, keepAlive: UInt16 = 60, will: MQTTWill? = nil,
                 username: String? = nil, password: [UInt8]? = nil) {
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.keepAlive = keepAlive
        self.will = will
        self.username = username
        self.password = password
    }
}

/// A last will: the message the broker publishes when the client is lost.
package struct MQTTWill: Sendable, Equatable {
    /// Where it is published (a topic name, no wildcards).
    package var topic: String
    /// Its payload.
    package var payload: [UInt8]
    /// Its quality of service.
    package var qos: MQTTQoS
    /// Whether the broker retains it.
    package var retain: Bool

    package init(topic: String, payload: [UInt8], qos: MQTTQoS = .atMostOnce, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// The broker's answer to CONNECT (MQTT 3.1.1, 3.2).
package struct MQTTConnAck: Sendable, Equatable {
    /// The broker resumed a stored session (only with `cleanSession: false`).
    package var sessionPresent: Bool
    /// Accepted, or why not.
    package var returnCode: MQTTConnectReturnCode

    package init(sessionPresent: Bool, returnCode: MQTTConnectReturnCode) {
        self.sessionPresent = sessionPresent
        self.returnCode = returnCode
    }
}

/// CONNACK's return codes (MQTT 3.1.1, table 3.1).
public enum MQTTConnectReturnCode: UInt8, Sendable, Equatable, CaseIterable {
    /// Connection accepted.
    case accepted = 0
    /// The broker does not support protocol level 4.
    case unacceptableProtocolVersion = 1
    /// The client identifier is not allowed.
    case identifierRejected = 2
    /// The MQTT service is unavailable.
    case serverUnavailable = 3
    /// The user name or password is malformed.
    case badUsernameOrPassword = 4
    /// The client is not authorized to connect.
    case notAuthorized = 5
}
