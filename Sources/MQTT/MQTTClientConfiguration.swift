import ConnectionCore

extension MQTTClient {
    /// The client's identity, session, timing and limits.
    public struct Configuration: Sendable, Hashable {
        /// The client identifier, 1 to 23 characters of `0-9a-zA-Z` for every broker
        /// (MQTT-3.1.3-5; many take longer ones). Default: `sensorstream-` and 10 random
        /// characters.
        public var clientID: String = "sensorstream-" + String((0..<10).map { _ in "0123456789abcdefghijklmnopqrstuvwxyz".randomElement() ?? "0" })
        /// Whether the broker starts a new session on every connection (true, the default), or
        /// keeps the session (subscriptions, QoS 1 and 2 messages in flight both ways) across
        /// connections of this ``clientID``. Either way the client keeps its own QoS 1 and 2
        /// messages not yet acknowledged and sends them again (DUP) on the next connection: a
        /// clean session's broker treats them as new messages (MQTT-3.1.2-6 lets it forget
        /// them; this client does not drop what the app was not told is delivered).
        public var cleanSession = true
        /// The longest silence between two packets this client sends: a PINGREQ goes out 3/4
        /// of it after the previous PINGRESP (or the connection's start). Zero turns
        /// keep-alive off. At most 65,535 s. Default 60 s.
        public var keepAlive: Duration = .seconds(60)
        /// How long a PINGREQ waits for its PINGRESP before the connection counts as dead and
        /// is reopened; at most a quarter of ``keepAlive`` is used, so that no gap between two
        /// packets exceeds it. Default 10 s.
        public var pingTimeout: Duration = .seconds(10)
        /// The user name sent in CONNECT. Default none.
        public var username: String?
        /// The password sent in CONNECT (only with a ``username``, MQTT-3.1.2-22). Default none.
        public var password: String?
        /// The message the broker publishes when this client disappears without DISCONNECT.
        public var will: MQTTMessage?
        /// How long opening a connection may take, CONNACK included. Default 10 s.
        public var connectTimeout: Duration = .seconds(10)
        /// How long a QoS 1 or 2 publish waits for its acknowledgement, reconnects included.
        /// Default 30 s.
        public var requestTimeout: Duration = .seconds(30)
        /// The delay before the first reconnect; it doubles (±20 %) up to
        /// ``maxReconnectDelay``. Default 1 s.
        public var reconnectDelay: Duration = .seconds(1)
        /// The longest delay between two reconnect attempts. Default 30 s.
        public var maxReconnectDelay: Duration = .seconds(30)
        /// The largest packet accepted from the broker (and payload sent), in bytes. Default
        /// 1 MiB.
        public var maxPacketSize = 1 << 20
        /// How many QoS 0 publishes are kept while no connection is up (the oldest dropped,
        /// counted in ``MQTTClient/Statistics/publishesDropped``), and how many QoS 1 and 2
        /// messages may wait for their acknowledgement, connected or not (one more throws
        /// ``MQTTClientError/dropped``). At least 1. Default 1,000.
        public var offlineQueueLimit = 1000
        /// How many messages each subscription loop buffers for a consumer that falls behind.
        /// Default 1,024.
        public var subscriptionBufferSize = 1024
        /// What happens when a loop's buffer is full. False (the default): nothing is lost;
        /// the client stops reading until the loop takes its buffer, so one slow loop holds
        /// back every subscription of the client, and the broker queues or (QoS 0, by its
        /// limits) drops. A loop that waits for this client's own QoS 1 or 2 publish while its
        /// buffer is full waits until ``requestTimeout`` (the acknowledgement is not read
        /// meanwhile): publish from another task. Nothing at all is read while it waits: a
        /// loop body that waits for another subscription's first message waits for good, and
        /// no PINGREQ goes out, so a broker may close the connection after 1.5 times
        /// ``keepAlive`` (the client then reconnects; a kept session's QoS 1 and 2 messages
        /// come again). A message is acknowledged to the broker before it is in the loop's
        /// buffer: one the loop leaves, or the client's stop, loses is not redelivered. True:
        /// the oldest buffered message is dropped and counted in
        /// ``MQTTClient/Statistics/messagesDropped``, and reading never waits.
        public var subscriptionDropsOldest = false
        /// TLS to the broker (needs the package trait `TLS`). Default nil: plaintext.
        public var tls: TLSConfiguration?

        /// The defaults.
        public init() {}

        /// Why these settings cannot be used; nil when they can.
        public var problem: String? {
            if clientID.isEmpty && !cleanSession { return "an empty clientID needs cleanSession (MQTT-3.1.3-7)" }
            if clientID.utf8.count > 65_535 { return "clientID is longer than 65,535 bytes" }
            if keepAlive < .zero || keepAlive > .seconds(65_535) { return "keepAlive \(keepAlive) is outside 0...65535 s" }
            if pingTimeout <= .zero { return "pingTimeout must be positive" }
            if password != nil && username == nil { return "a password needs a username (MQTT-3.1.2-22)" }
            if let will, !MQTTTopic.isValidName(will.topic) { return "the will's topic \"\(will.topic)\" is not a valid topic name" }
            if connectTimeout <= .zero || requestTimeout <= .zero { return "connectTimeout and requestTimeout must be positive" }
            if reconnectDelay <= .zero || maxReconnectDelay < reconnectDelay { return "reconnectDelay must be positive and at most maxReconnectDelay" }
            if maxPacketSize < 16 { return "maxPacketSize must be at least 16 bytes" }
            if offlineQueueLimit < 1 || subscriptionBufferSize < 1 { return "offlineQueueLimit and subscriptionBufferSize must be at least 1" }
            do throws(MQTTPacketError) {
                _ = try MQTTPacket.connect(connectPacket).encoded()
            } catch {
                return "the CONNECT packet cannot be encoded: \(error)"
            }
            return nil
        }

        /// The CONNECT packet these settings make.
        var connectPacket: MQTTConnect {
            let seconds = keepAlive.components.seconds + (keepAlive.components.attoseconds > 0 ? 1 : 0)
            return MQTTConnect(clientID: clientID, cleanSession: cleanSession, keepAlive: UInt16(clamping: seconds),
                               will: will.map { MQTTWill(topic: $0.topic, payload: $0.payload, qos: $0.qos, retain: $0.retain) },
                               username: username, password: password.map { Array($0.utf8) })
        }
    }

    /// What the client counted since it was created.
    public struct Statistics: Sendable, Hashable {
        /// Messages the broker delivered (each once, duplicates of QoS 2 not counted).
        public var messagesReceived = 0
        /// Deliveries to a subscription stream that dropped an older message (its consumer
        /// was behind by ``Configuration/subscriptionBufferSize``).
        public var messagesDropped = 0
        /// Publishes dropped because the offline queue was full.
        public var publishesDropped = 0
        /// Connections lost (or attempts failed) after which the client reconnected.
        public var reconnects = 0
    }
}
