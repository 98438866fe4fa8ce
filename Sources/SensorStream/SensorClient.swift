
/// A client of a sensor aggregator server: connect, ask whether sensors are connected,
/// subscribe, and consume readings as AsyncSequences (or through callbacks).
///
/// ```swift
/// let client = SensorClient(host: "localhost", port: 5192)
/// try await client.connect()
/// for await reading in client.readings("CE7238J") {
///     print(reading.sensorID, reading.readings)
/// }
/// ```
///
/// Behaviour the app can rely on:
/// - **connect()** opens the WebSocket and sends `client_connect`. If the server is down it
///   throws ``SensorClientError/connectionFailed(reason:)``: the app decides whether to retry.
///   Once connected, any loss the app did not ask for (reset, EOF, a close frame, a failed
///   write, a missed heartbeat) reconnects automatically with ``Configuration/reconnect``
///   backoff; after each reconnect `client_connect` and every active subscription are sent
///   again, and streams and callbacks keep delivering.
/// - **Calls while reconnecting** are not rejected: subscribe/unsubscribe change the
///   subscription state, which is sent when the connection is back; `sensorConnected`
///   waits (its request is re-sent after the reconnect), bounded by `requestTimeout`.
/// - **Before connect()**: subscriptions, streams and callbacks may be set up; they are sent
///   on connect. `sensorConnected` throws ``SensorClientError/notConnected``.
/// - **After disconnect()**: every stream has finished and every call throws
///   ``SensorClientError/disconnected``.
public final class SensorClient: Sendable {
    /// The server's host name or address.
    public let host: String
    /// The server's TCP port.
    public let port: Int
    /// The configuration the client was created with.
    public let configuration: Configuration
    /// Everything that runs: state, reconnects, the connection. It never retains this object,
    /// so releasing the client shuts it down (see `deinit`).
    let engine: ClientEngine

    /// Creates a client; nothing happens on the network until ``connect()``.
    /// - Parameters:
    ///   - host: A host name ("localhost" tries every address it resolves to, IPv6 and IPv4),
    ///     or an IPv4/IPv6 literal.
    ///   - port: 1...65535; another value makes ``connect()`` throw
    ///     ``SensorClientError/invalidPort(_:)``.
    ///   - configuration: Timeouts, heartbeat, reconnect policy, limits.
    ///   - clock: The clock for heartbeats, backoff and timeouts (tests inject a manual one).
    public init(host: String, port: Int, configuration: Configuration = .init(),
                clock: any Clock<Duration> = ContinuousClock()) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.engine = ClientEngine(host: host, port: port, configuration: configuration, clock: clock)
    }

    /// A client the app no longer references shuts down: `client_disconnect` and a close
    /// frame (1001) go out, reconnecting stops, every stream finishes and its tasks end.
    deinit {
        engine.shutdown()
    }

    /// Creates a client for a WebSocket URL: `ws://HOST[:PORT][/PATH]`, or
    /// `wss://HOST[:PORT][/PATH]` for TLS. The port defaults to 80 or 443; the path (query
    /// included) replaces ``Configuration/path``. For `wss://`, ``Configuration/tls`` is used
    /// when set, the default ``TLSConfiguration`` (full verification) otherwise; for `ws://` it
    /// is cleared.
    /// - Parameters:
    ///   - url: The server's URL; an IPv6 address goes in brackets (`ws://[::1]:5192/`).
    ///   - configuration: Timeouts, heartbeat, reconnect policy, limits, TLS.
    ///   - clock: The clock for heartbeats, backoff and timeouts.
    /// - Throws: ``SensorClientError/invalidURL(_:)`` for anything else (another scheme, no
    ///   host, a bad port, user info or a fragment); ``SensorClientError/tls(_:)`` with
    ///   ``TLSError/unavailable`` for `wss://` in a build without the TLS trait.
    public convenience init(url: String, configuration: Configuration = .init(),
                            clock: any Clock<Duration> = ContinuousClock()) throws(SensorClientError) {
        guard let parsed = WebSocketURL(url) else { throw .invalidURL(url) }
        var configuration = configuration
        configuration.path = parsed.path
        if parsed.secure {
            guard TLSConfiguration.isAvailable else { throw .tls(.unavailable) }
            configuration.tls = configuration.tls ?? TLSConfiguration()
        } else {
            configuration.tls = nil
        }
        self.init(host: parsed.host, port: parsed.port, configuration: configuration, clock: clock)
    }

    /// Creates a client from a port given as text (a command-line argument, a setting).
    /// - Parameters:
    ///   - host: As ``init(host:port:configuration:clock:)``.
    ///   - port: The port as text.
    ///   - configuration: Timeouts, heartbeat, reconnect policy, limits.
    ///   - clock: The clock for heartbeats, backoff and timeouts.
    /// - Throws: ``SensorClientError/invalidPort(_:)`` unless `port` is decimal digits only
    ///   and within 1...65535.
    public convenience init(host: String, port: String, configuration: Configuration = .init(),
                            clock: any Clock<Duration> = ContinuousClock()) throws(SensorClientError) {
        guard !port.isEmpty, port.count <= 5, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let number = Int(port), (1...65535).contains(number) else {
            throw .invalidPort(port)
        }
        self.init(host: host, port: number, configuration: configuration, clock: clock)
    }

    // MARK: Connection

    /// Opens the WebSocket and sends `client_connect`. Returns once connected.
    /// Calling it while connected or reconnecting does nothing.
    /// - Throws: ``SensorClientError/invalidPort(_:)``, ``SensorClientError/connectionFailed(reason:)``
    ///   (nothing retried: the app decides), ``SensorClientError/disconnected`` after
    ///   ``disconnect()``.
    public func connect() async throws(SensorClientError) {
        guard (1...65535).contains(port) else { throw .invalidPort(String(port)) }
        try await engine.connect()
    }

    /// Sends `client_disconnect`, performs the WebSocket close handshake, stops reconnecting,
    /// finishes every stream, cancels every callback and fails pending requests with
    /// ``SensorClientError/disconnected``. Idempotent.
    public func disconnect() async {
        await engine.disconnect()
    }

    /// The connection's state transitions, starting with the current state. Finishes after
    /// ``disconnect()`` (or when reconnecting gives up). Each access makes a new stream;
    /// any number may be consumed at once.
    public var connectionStates: AsyncStream<ConnectionState> {
        engine.connectionStates
    }

    /// The current connection state.
    public var currentState: ConnectionState { engine.currentState }

    /// Counters: readings received and dropped, reconnects, skipped messages.
    public var statistics: ClientStatistics { engine.statistics }

    /// The executor of the thread this client's connection is read on. A consumer task that
    /// prefers it runs where the readings arrive, so a reading reaches its `for await` body
    /// without waking another thread (the lowest latency from the socket to the app):
    ///
    /// ```swift
    /// Task(executorPreference: client.connectionExecutor) {
    ///     for await reading in client.readings("CE7238J") { handle(reading) }
    /// }
    /// ```
    ///
    /// That thread is the process's first event loop (`EventLoop.shared`): it also serves
    /// every other client connection of the process and, in a process that runs a server of
    /// this package too (a hub, a metric store), that server's first loop. A body that blocks
    /// or computes for long delays them all. Without a preference (the default), a consumer
    /// runs on the cooperative pool and costs the I/O nothing.
    public var connectionExecutor: any TaskExecutor { engine.loop }

    // MARK: Requests

    /// Asks the server whether a sensor is connected (`sensor_connection_status`).
    ///
    /// Concurrent calls for the same sensor share one round trip; an unsolicited status for
    /// the sensor that arrives meanwhile answers the call. If the connection drops while
    /// waiting, the request is sent again after the reconnect, within the same timeout.
    /// - Parameter sensorID: The sensor to ask about (1 to 40 characters).
    /// - Returns: Whether the server says the sensor is connected.
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/timeout`` after ``Configuration/requestTimeout``,
    ///   ``SensorClientError/notConnected`` before ``connect()``,
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func sensorConnected(_ sensorID: String) async throws(SensorClientError) -> Bool {
        try await engine.sensorConnected(sensorID)
    }

    /// Sends a command to a device (a sensor an agent registered with the SensorAgent library)
    /// and waits for its response, within ``Configuration/requestTimeout``. Made while
    /// reconnecting, it goes out on the next connection; a command is never sent twice.
    /// - Parameters:
    ///   - sensorID: The device.
    ///   - service: What to do (`switch` ...).
    ///   - data: Its arguments.
    /// - Returns: The device's status and data, unchanged; or the hub's 404 (unknown or
    ///   disconnected device) or 504 (the agent did not answer in time).
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/timeout``, ``SensorClientError/notConnected``,
    ///   ``SensorClientError/disconnected``.
    public func sendCommand(to sensorID: String, service: String, data: JSONValue) async throws(SensorClientError) -> CommandResponse {
        try await engine.sendCommand(to: sensorID, service: service, data: data)
    }

    /// Every sensor the hub knows, with type, name, tags and whether it is connected (a
    /// disconnected device stays listed, a deleted one does not).
    /// - Returns: The sensors.
    /// - Throws: ``SensorClientError/timeout``, ``SensorClientError/notConnected``,
    ///   ``SensorClientError/disconnected``.
    public func sensors() async throws(SensorClientError) -> [SensorInfo] {
        try await engine.sensors()
    }

    /// A sensor's recorded past, from the hub's history (a hub started with `--history`):
    /// `sensor_history`, answered by `sensor_history_response`. Asked while reconnecting, it
    /// goes out on the next connection (within the request timeout).
    ///
    /// ```swift
    /// let now = Int(Date().timeIntervalSince1970)
    /// let hour = try await client.history("A01-S1", field: "temperature", from: now - 3600, to: now, maxPoints: 120)
    /// for point in hour.series["temperature"] ?? [] { print(point.time, point.average) }
    /// ```
    /// - Parameters:
    ///   - sensorID: The sensor (1 to 40 characters).
    ///   - field: One field (`temperature`, `gps.lat`); nil: every field the hub recorded for
    ///     the sensor since it started.
    ///   - from: The first second (unix seconds).
    ///   - to: The last second, included.
    ///   - maxPoints: Points per field at most (the hub downsamples: per bucket of equal
    ///     seconds, the average, minimum, maximum and count); nil: the hub's default (500). An
    ///   answer carries 10,000 points at most, shared among its fields.
    /// - Returns: The points by field.
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` and
    ///   ``SensorClientError/invalidArgument(_:)`` (nothing sent: `from` after `to`, a time
    ///   beyond ±2^53, `maxPoints` below 1, a field with whitespace);
    ///   ``SensorClientError/requestRefused(status:reason:)`` (400, 429, or 503 from a hub
    ///   without history or whose store is unreachable); ``SensorClientError/timeout``,
    ///   ``SensorClientError/notConnected``, ``SensorClientError/disconnected``.
    public func history(_ sensorID: String, field: String? = nil, from: Int, to: Int, maxPoints: Int? = nil)
        async throws(SensorClientError) -> SensorHistory {
        try await engine.history(sensorID, field: field, from: from, to: to, maxPoints: maxPoints)
    }

    // MARK: Subscriptions

    /// Subscribes to a sensor (`subscribe_sensor`), unless it is already subscribed. The
    /// subscription holds until ``unsubscribe(_:)``, across reconnects.
    /// - Parameter sensorID: The sensor (1 to 40 characters).
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func subscribe(_ sensorID: String) async throws(SensorClientError) {
        try engine.subscribe(sensorID)
    }

    /// Unsubscribes (`unsubscribe_sensor`, always sent) and ends delivery for the sensor:
    /// its `readings` streams finish and its callbacks are removed.
    /// - Parameter sensorID: The sensor (1 to 40 characters).
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func unsubscribe(_ sensorID: String) async throws(SensorClientError) {
        try engine.unsubscribe(sensorID)
    }

    // MARK: Streams

    /// The readings of one sensor, in arrival order.
    ///
    /// Iterating subscribes (`subscribe_sensor`) if nothing else holds the sensor; when the
    /// loop ends or its task is cancelled, the last consumer gone unsubscribes, unless the
    /// app holds an explicit ``subscribe(_:)``. Any number of loops may consume the same
    /// sensor; each gets every reading. Each buffers for a slow loop as
    /// ``Configuration/readingBuffering`` says (by default the newest 1024, older ones
    /// dropped and counted in ``statistics``). Finishes on ``unsubscribe(_:)`` and ``disconnect()``, and
    /// at once for an invalid sensor id.
    /// - Parameter sensorID: The sensor (1 to 40 characters).
    /// - Returns: A sequence whose every iteration is a consumer of the sensor.
    public func readings(_ sensorID: String) -> SensorReadings {
        SensorReadings(client: self, sensorID: sensorID, buffering: configuration.readingBuffering)
    }

    /// The readings of one sensor, buffering up to `bufferingNewest` readings for this
    /// stream (instead of ``Configuration/readingBufferSize``); older ones are dropped and
    /// counted in ``statistics``.
    /// - Parameters:
    ///   - sensorID: The sensor (1 to 40 characters).
    ///   - bufferingNewest: How many readings this stream holds for a slow loop (at least 1).
    /// - Returns: A sequence whose every iteration is a consumer of the sensor.
    public func readings(_ sensorID: String, bufferingNewest: Int) -> SensorReadings {
        SensorReadings(client: self, sensorID: sensorID, buffering: .newest(bufferingNewest))
    }

    /// The readings of one sensor, buffered as `buffering` says for this stream (instead of
    /// ``Configuration/readingBuffering``): `.lossless(1024)` never drops a reading; when the
    /// loop falls 1024 behind, the connection waits for it.
    /// - Parameters:
    ///   - sensorID: The sensor (1 to 40 characters).
    ///   - buffering: The stream's buffer size and what happens when it is full.
    /// - Returns: A sequence whose every iteration is a consumer of the sensor.
    public func readings(_ sensorID: String, buffering: ReadingBuffering) -> SensorReadings {
        SensorReadings(client: self, sensorID: sensorID, buffering: buffering)
    }

    /// Every message the server sends, raw, including those the typed API skips. Each
    /// access makes a new stream (buffering the newest 1024 messages); finishes on
    /// ``disconnect()``.
    public var frames: AsyncStream<RawFrame> {
        engine.frameStream
    }

    /// Every `sensor_connection_status` the server sends, answers and unsolicited changes
    /// (e.g. an agent dropping). Finishes on ``disconnect()``.
    public var sensorStatuses: AsyncStream<SensorStatus> {
        engine.statusStream
    }
}
