import ConnectionCore

/// A FastSlow client: fast and slow requests over one TCP connection, never two in flight,
/// on demand or periodically, reconnecting by itself.
///
/// ```swift
/// var config = FastSlowClient.Configuration()
/// config.reconnectDelay = .seconds(2)
/// let client = FastSlowClient(host: "127.0.0.1", port: 5555, configuration: config)
/// try await client.connect()
/// let now = try await client.fast()                   // FastResponse
/// let count = try await client.slow(sleepSeconds: 2)   // UInt32
/// for await result in client.periodic(every: .milliseconds(100), request: .fast) { ... }
/// for await event in client.events { print(event) }
/// ```
///
/// Concurrent calls queue and go out one after another. A connection lost (or a connect that
/// fails) is retried every ``Configuration/reconnectDelay``; calls made meanwhile wait for the
/// reconnect within their timeout; a request on the wire when the connection drops fails with
/// ``FastSlowClientError/connectionLost(_:)`` and is not sent again. ``close()`` stops the
/// client; so does letting go of it.
public final class FastSlowClient: Sendable {
    /// The client's timing and limits.
    public struct Configuration: Sendable, Hashable {
        /// The wait before reconnecting after a loss or a failed reconnect, 1...10 s.
        /// Default 2 s.
        public var reconnectDelay: Duration = .seconds(2)
        /// How long a call waits for its answer, reconnects included; a slow request's sleep
        /// is added to it. Default 30 s.
        public var requestTimeout: Duration = .seconds(30)
        /// How long opening a connection may take. Default 10 s.
        public var connectTimeout: Duration = .seconds(10)
        /// The largest answer accepted, in bytes. Default 1 MiB.
        public var maxMessageSize: Int = 1 << 20
        /// TLS to the server (needs the package trait `TLS`). Default nil: plaintext.
        public var tls: TLSConfiguration?

        /// The allowed ``reconnectDelay``s.
        public static let reconnectDelayRange: ClosedRange<Duration> = .seconds(1) ... .seconds(10)
        /// The allowed intervals of ``FastSlowClient/periodic(every:request:)``.
        public static let periodicIntervalRange: ClosedRange<Duration> = .milliseconds(10) ... .milliseconds(1000)

        /// The defaults.
        public init() {}

        /// Why these settings cannot be used; nil when they can.
        public var problem: String? {
            if !Self.reconnectDelayRange.contains(reconnectDelay) { return "reconnectDelay \(reconnectDelay) is outside 1...10 s" }
            if requestTimeout <= .zero { return "requestTimeout must be positive" }
            if connectTimeout <= .zero { return "connectTimeout must be positive" }
            if maxMessageSize < 16 { return "maxMessageSize must be at least 16 bytes" }
            return nil
        }
    }

    /// The server's host.
    public var host: String { engine.host }
    /// The server's port.
    public var port: Int { engine.port }
    /// The settings it runs with.
    public var configuration: Configuration { engine.configuration }

    /// Everything the client runs; it never refers back to this object.
    let engine: FastSlowClientEngine

    /// A client; nothing happens on the network until ``connect()``.
    /// - Parameters:
    ///   - host: The server's host name or address.
    ///   - port: The server's port.
    ///   - configuration: Timing and limits (checked by ``connect()``).
    public convenience init(host: String, port: Int, configuration: Configuration = .init()) {
        self.init(host: host, port: port, configuration: configuration, clock: ContinuousClock())
    }

    /// A client whose timeouts, reconnect delays and periodic ticks run on `clock` (tests).
    package init<C: Clock<Duration>>(host: String, port: Int, configuration: Configuration, clock: C) {
        engine = FastSlowClientEngine(host: host, port: port, configuration: configuration, clock: clock)
    }

    deinit {
        engine.shutdown()
    }

    /// The client's log as a stream, from the moment of the call; finishes after ``close()``.
    /// Each call makes a new stream; a consumer more than 4,096 events behind loses the oldest.
    public var events: AsyncStream<FastSlowEvent> { engine.events }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    public var connectionStates: AsyncStream<FastSlowConnectionState> { engine.connectionStates }

    /// Opens the connection (once it is up the client keeps it up by itself). Returns at once
    /// when already connected or reconnecting.
    /// - Throws: ``FastSlowClientError/invalidArgument(_:)`` for a configuration out of range,
    ///   ``FastSlowClientError/connectionFailed(_:)`` when this first attempt fails (call
    ///   again to retry), ``FastSlowClientError/closed`` after ``close()``.
    public func connect() async throws(FastSlowClientError) {
        try await engine.connect()
    }

    /// Closes the connection for good; waiting calls fail with ``FastSlowClientError/closed``,
    /// periodic streams and ``events`` finish.
    public func close() {
        engine.close()
    }

    /// Asks for the server's time.
    /// - Returns: The answer; ``FastResponse/date`` reads its time.
    /// - Throws: ``FastSlowClientError``.
    public func fast() async throws(FastSlowClientError) -> FastResponse {
        try await engine.fast()
    }

    /// Asks the server to sleep `sleepSeconds`, then say how many clients were connected when
    /// it got the request (this one included).
    /// - Parameter sleepSeconds: The sleep; the call's timeout is ``Configuration/requestTimeout`` plus it.
    /// - Returns: The count.
    /// - Throws: ``FastSlowClientError``.
    public func slow(sleepSeconds: UInt32) async throws(FastSlowClientError) -> UInt32 {
        try await engine.slow(sleepSeconds: sleepSeconds)
    }

    /// Sends `request` when the line is free (after the requests before it) and waits for its
    /// answer, within ``Configuration/requestTimeout`` (plus the sleep of a slow request).
    /// - Parameter request: The request.
    /// - Returns: The answer.
    /// - Throws: ``FastSlowClientError``; cancelling the task fails it with
    ///   ``FastSlowClientError/cancelled``.
    public func send(_ request: FastSlowRequest) async throws(FastSlowClientError) -> FastSlowAnswer {
        try await engine.send(request)
    }

    /// Sends `request` every `interval` until the stream is dropped or the client closes. A
    /// tick whose previous request has not been answered sends nothing
    /// (``FastSlowEvent/tickSkipped(_:total:)``); after a reconnect the ticks go on.
    /// - Parameters:
    ///   - interval: 10...1000 ms; outside that the stream holds one
    ///     ``FastSlowClientError/invalidArgument(_:)`` and ends.
    ///   - request: What each tick sends.
    /// - Returns: Each answer or failure, in order.
    public func periodic(every interval: Duration, request: FastSlowRequest) -> AsyncStream<Result<FastSlowAnswer, FastSlowClientError>> {
        engine.periodic(every: interval, request: request)
    }
}
