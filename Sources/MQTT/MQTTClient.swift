import ConnectionCore

/// An MQTT 3.1.1 client: publish with QoS 0, 1 or 2, and consume subscriptions as
/// AsyncSequences; it keeps its connection up by itself (keep-alive, reconnect with backoff,
/// subscriptions and unacknowledged messages sent again).
///
/// ```swift
/// var configuration = MQTTClient.Configuration()
/// configuration.will = MQTTMessage(topic: "hubs/h1", text: "offline", retain: true)
/// let client = MQTTClient(host: "localhost", port: 1883, configuration: configuration)
/// try await client.connect()
/// try await client.publish(MQTTMessage(topic: "hubs/h1", text: "online", qos: .atLeastOnce, retain: true))
/// for try await message in client.messages(matching: "zigbee2mqtt/+", qos: .atLeastOnce) {
///     print(message.topic, message.text)
/// }
/// ```
///
/// Behaviour the app can rely on:
/// - **Subscriptions are streams.** Iterating ``messages(matching:qos:)`` subscribes (once
///   per filter, whatever the number of loops on it); leaving the last loop on a filter
///   unsubscribes (for a kept session while offline: after the next CONNACK). Each message
///   reaches every loop whose filter matches its topic (matched here, `+` and `#` included),
///   and none is lost: a loop that falls behind holds reading back (see
///   ``Configuration/subscriptionDropsOldest``). After a reconnect the client subscribes again
///   to what the broker no longer holds.
/// - **Publishing** QoS 0 returns once the message is queued on the connection (waiting while
///   the connection's output is over its high-water mark) or, while reconnecting, in the
///   offline queue; QoS 1 and 2 return once the broker acknowledged it (PUBACK, PUBCOMP). A QoS
///   1 or 2 message lost with its connection is sent again (DUP) after the reconnect.
/// - **Stopping**: ``disconnect()`` sends DISCONNECT (the broker then discards the will);
///   letting go of the client does the same. Both finish every stream and fail waiting calls
///   with ``MQTTClientError/closed``.
public final class MQTTClient: Sendable {
    /// Everything the client runs; it never refers back to this object.
    let engine: MQTTClientEngine

    /// The broker's host.
    public var host: String { engine.host }
    /// The broker's port.
    public var port: Int { engine.port }
    /// The settings it runs with.
    public var configuration: Configuration { engine.configuration }

    /// A client; nothing happens on the network until ``connect()``.
    /// - Parameters:
    ///   - host: The broker's host name or address.
    ///   - port: The broker's port (1883 plaintext, 8883 TLS by convention).
    ///   - configuration: Identity, session, timing and limits (checked by ``connect()``).
    ///   - clock: The clock of keep-alive, timeouts and backoff (tests inject a manual one).
    public init(host: String, port: Int = 1883, configuration: Configuration = .init(),
                clock: any Clock<Duration> = ContinuousClock()) {
        engine = MQTTClientEngine(host: host, port: port, configuration: configuration, clock: clock)
    }

    deinit {
        engine.shutdown()
    }

    /// Opens the connection (CONNECT, CONNACK); once it is up the client keeps it up.
    /// Returns at once when already connected or reconnecting.
    /// - Throws: ``MQTTClientError/invalidArgument(_:)`` for a configuration out of range,
    ///   ``MQTTClientError/refused(_:)`` when the broker refuses,
    ///   ``MQTTClientError/connectionFailed(_:)`` when the broker cannot be reached (nothing
    ///   retried: the app decides), ``MQTTClientError/closed`` after ``disconnect()``.
    public func connect() async throws(MQTTClientError) {
        try await engine.connect()
    }

    /// Sends DISCONNECT, closes the connection for good, finishes every stream (a loop started
    /// later ends at once) and fails waiting calls with ``MQTTClientError/closed``; a
    /// ``connect()`` in progress throws ``MQTTClientError/closed``. Idempotent.
    public func disconnect() async {
        await engine.disconnect()
    }

    /// The connection's states, starting with the current one; finishes once the client is
    /// closed. Each access makes a new stream.
    public var connectionStates: AsyncStream<ClientPhase> { engine.connectionStates }

    /// The current connection state.
    public var currentState: ClientPhase { engine.phase }

    /// Counters: messages received and dropped, publishes dropped, reconnects.
    public var statistics: Statistics { engine.statistics }

    /// Publishes `message`.
    /// - Parameter message: The message; its topic must be a valid topic name (no wildcards).
    /// - Throws: ``MQTTClientError/invalidArgument(_:)`` (a topic that is not a valid name, a
    ///   payload over ``Configuration/maxPacketSize``), ``MQTTClientError/notConnected``
    ///   before the first connection is up, ``MQTTClientError/timeout`` (QoS 1 and 2, after
    ///   ``Configuration/requestTimeout``), ``MQTTClientError/dropped``,
    ///   ``MQTTClientError/cancelled``, ``MQTTClientError/closed``.
    public func publish(_ message: MQTTMessage) async throws(MQTTClientError) {
        try await engine.publish(message)
    }

    /// The messages whose topic matches `filter`, as long as the loop runs.
    /// - Parameters:
    ///   - filter: A topic filter (`+` one level, `#` the rest).
    ///   - qos: The highest QoS the broker may deliver with. Default at most once.
    /// - Returns: A sequence that subscribes when iterated (before ``connect()``, once
    ///   connected); it throws ``MQTTClientError/subscriptionRefused(filter:)`` or
    ///   ``MQTTClientError/invalidArgument(_:)``, and ends when the client is closed.
    public func messages(matching filter: String, qos: MQTTQoS = .atMostOnce) -> MQTTMessages {
        MQTTMessages(engine: engine, filter: filter, qos: qos)
    }
}

/// The messages of one subscription (see ``MQTTClient/messages(matching:qos:)``): an
/// AsyncSequence that subscribes when iteration starts and unsubscribes when its last
/// iterator on the filter goes away.
public struct MQTTMessages: AsyncSequence, Sendable {
    /// Each element is one message.
    public typealias Element = MQTTMessage
    /// What ends the sequence early: a refused subscription, an invalid filter.
    public typealias Failure = MQTTClientError

    let engine: MQTTClientEngine
    /// The topic filter.
    public let filter: String
    /// The highest QoS asked for.
    public let qos: MQTTQoS

    /// Starts consuming: subscribes if no other loop holds the filter.
    public func makeAsyncIterator() -> Iterator {
        Iterator(lease: MQTTConsumerLease(queue: engine.attach(filter, qos: qos)))
    }

    /// The iterator; dropping it (or cancelling its task) ends the consumer.
    ///
    /// It takes every message buffered for it at once and hands them out one by one.
    public struct Iterator: AsyncIteratorProtocol {
        private let lease: MQTTConsumerLease
        private var batch: [MQTTDelivery] = []
        private var index = 0

        init(lease: MQTTConsumerLease) {
            self.lease = lease
        }

        /// The next message; nil once the client is closed (or the task is cancelled).
        /// - Throws: ``MQTTClientError/subscriptionRefused(filter:)``,
        ///   ``MQTTClientError/invalidArgument(_:)``.
        public mutating func next() async throws(MQTTClientError) -> MQTTMessage? {
            try await next(isolation: nil)
        }

        /// The next message, resuming on the caller's actor.
        /// - Parameter actor: The caller's actor (the `for try await` loop passes it).
        /// - Returns: The next message; nil once the client is closed.
        /// - Throws: ``MQTTClientError/subscriptionRefused(filter:)``,
        ///   ``MQTTClientError/invalidArgument(_:)``.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(MQTTClientError) -> MQTTMessage? {
            while true {
                if index < batch.count {
                    guard !Task.isCancelled else { return nil }
                    defer { index += 1 }
                    switch batch[index] {
                    case .message(let message): return message
                    case .failed(let error): throw error
                    }
                }
                guard let taken = await lease.queue.take() else { return nil }
                batch = taken
                index = 0
            }
        }
    }
}

/// What a subscription's queue carries: a message, or the error that ends it.
enum MQTTDelivery: Sendable {
    case message(MQTTMessage)
    case failed(MQTTClientError)
}

/// Ends a consumer when its last iterator copy goes away (a loop left with `break`, an
/// iterator dropped), as `AsyncStream` does.
final class MQTTConsumerLease: Sendable {
    let queue: ConsumerQueue<MQTTDelivery>

    init(queue: ConsumerQueue<MQTTDelivery>) {
        self.queue = queue
    }

    deinit {
        queue.terminate()
    }
}
