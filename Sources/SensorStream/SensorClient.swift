import Locking
import WebSocketCore
import WebSocketIO

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
    let clock: any Clock<Duration>
    let state = LockedValue(ClientState())

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
        self.clock = clock
    }

    /// Creates a client from a port given as text (a command-line argument, a setting).
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
        let proceed = try state.withLock { (state) throws(SensorClientError) -> Bool in
            switch state.lifecycle {
            case .closed: throw .disconnected
            case .running: return false
            case .notStarted:
                state.lifecycle = .running
                state.publish(.connecting(attempt: 0))
                return true
            }
        }
        guard proceed else { return }
        let connection: WebSocketConnection
        do {
            connection = try await open()
        } catch {
            state.withLock { state in
                if case .running = state.lifecycle {
                    state.lifecycle = .notStarted
                    state.publish(.idle)
                }
            }
            throw error
        }
        guard attach(connection, isReconnect: false) else {
            await connection.close()
            throw .disconnected
        }
        let supervisor = Task { await self.supervise(connection) }
        let closedMeanwhile = state.withLock { state in
            guard case .running = state.lifecycle else { return true }
            state.supervisor = supervisor
            return false
        }
        if closedMeanwhile { supervisor.cancel() }
    }

    /// Sends `client_disconnect`, performs the WebSocket close handshake, stops reconnecting,
    /// finishes every stream, cancels every callback and fails pending requests with
    /// ``SensorClientError/disconnected``. Idempotent.
    public func disconnect() async {
        let (connection, teardown) = state.withLock { state -> (WebSocketConnection?, ClientState.Teardown?) in
            guard state.lifecycle != .closed else { return (nil, nil) }
            let connection = state.connection
            state.send(.disconnect)
            return (connection, state.close(reason: DisconnectReason(closeCode: 1000, message: "disconnected by the app")))
        }
        guard let teardown else { return }
        teardown.run(error: .disconnected)
        if let connection { await connection.close() }
    }

    /// The connection's state transitions, starting with the current state. Finishes after
    /// ``disconnect()`` (or when reconnecting gives up). Each access makes a new stream;
    /// any number may be consumed at once.
    public var connectionStates: AsyncStream<ConnectionState> {
        listenerStream(\.stateListeners, bufferingNewest: 64, initial: { $0.connectionState })
    }

    /// The current connection state.
    public var currentState: ConnectionState { state.withLock { $0.connectionState } }

    /// Counters: readings received and dropped, reconnects, skipped messages.
    public var statistics: ClientStatistics { state.withLock { $0.statistics } }

    // MARK: Requests

    /// Asks the server whether a sensor is connected (`sensor_connection_status`).
    ///
    /// Concurrent calls for the same sensor share one round trip; an unsolicited status for
    /// the sensor that arrives meanwhile answers the call. If the connection drops while
    /// waiting, the request is sent again after the reconnect, within the same timeout.
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/timeout`` after ``Configuration/requestTimeout``,
    ///   ``SensorClientError/notConnected`` before ``connect()``,
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func sensorConnected(_ sensorID: String) async throws(SensorClientError) -> Bool {
        try SensorClientError.validate(sensorID: sensorID)
        try state.withLock { (state) throws(SensorClientError) in
            switch state.lifecycle {
            case .notStarted: throw .notConnected
            case .closed: throw .disconnected
            case .running: break
            }
        }
        let timeout = configuration.requestTimeout
        do {
            return try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask { try await self.waitForStatus(sensorID) }
                group.addTask {
                    try await self.clock.sleep(for: timeout)
                    throw SensorClientError.timeout
                }
                defer { group.cancelAll() }
                guard let answer = try await group.next() else { throw SensorClientError.timeout }
                return answer
            }
        } catch let error as SensorClientError {
            throw error
        } catch {
            throw .disconnected  // cancelled
        }
    }

    /// Registers a waiter for `sensorID`'s status (sending the request if it is the first)
    /// and waits for the answer. Continuations are resumed outside the lock (see
    /// ``ClientState``).
    private func waitForStatus(_ sensorID: String) async throws -> Bool {
        let requestID = LockedValue<UInt64?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: ClientState.StatusWaiter) in
                let failure = state.withLock { state -> (any Error)? in
                    guard state.lifecycle != .closed else { return SensorClientError.disconnected }
                    let (id, message) = state.pending.add(sensorID, continuation)
                    state.send(message)
                    requestID.withLock { $0 = id }
                    if Task.isCancelled, state.pending.remove(id: id) != nil { return CancellationError() }
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> ClientState.StatusWaiter? in
                guard let id = requestID.withLock({ $0 }) else { return nil }
                return state.pending.remove(id: id)
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    // MARK: Subscriptions

    /// Subscribes to a sensor (`subscribe_sensor`), unless it is already subscribed. The
    /// subscription holds until ``unsubscribe(_:)``, across reconnects.
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func subscribe(_ sensorID: String) async throws(SensorClientError) {
        try SensorClientError.validate(sensorID: sensorID)
        try state.withLock { (state) throws(SensorClientError) in
            guard state.lifecycle != .closed else { throw .disconnected }
            state.send(state.book.subscribe(sensorID))
        }
    }

    /// Unsubscribes (`unsubscribe_sensor`, always sent) and ends delivery for the sensor:
    /// its `readings` streams finish and its callbacks are removed.
    /// - Throws: ``SensorClientError/invalidSensorID(_:)`` (nothing sent),
    ///   ``SensorClientError/disconnected`` after ``disconnect()``.
    public func unsubscribe(_ sensorID: String) async throws(SensorClientError) {
        try SensorClientError.validate(sensorID: sensorID)
        let ended = try state.withLock { (state) throws(SensorClientError) -> ClientState.Teardown in
            guard state.lifecycle != .closed else { throw .disconnected }
            state.send(state.book.unsubscribe(sensorID))
            var teardown = ClientState.Teardown()
            teardown.readings = state.consumers.removeValue(forKey: sensorID)?.values.map(\.queue) ?? []
            teardown.tasks = state.callbacks.removeValue(forKey: sensorID)?.map(\.task) ?? []
            return teardown
        }
        ended.run(error: .disconnected)
    }

    // MARK: Streams

    /// The readings of one sensor, in arrival order.
    ///
    /// Iterating subscribes (`subscribe_sensor`) if nothing else holds the sensor; when the
    /// loop ends or its task is cancelled, the last consumer gone unsubscribes, unless the
    /// app holds an explicit ``subscribe(_:)``. Any number of loops may consume the same
    /// sensor; each gets every reading. Each buffers up to
    /// ``Configuration/readingBufferSize`` readings for a slow loop, then drops the oldest
    /// (counted in ``statistics``). Finishes on ``unsubscribe(_:)`` and ``disconnect()``, and
    /// at once for an invalid sensor id.
    public nonisolated func readings(_ sensorID: String) -> SensorReadings {
        SensorReadings(client: self, sensorID: sensorID, bufferSize: configuration.readingBufferSize)
    }

    /// The readings of one sensor, buffering up to `bufferingNewest` readings for this
    /// stream (instead of ``Configuration/readingBufferSize``); older ones are dropped and
    /// counted in ``statistics``.
    public nonisolated func readings(_ sensorID: String, bufferingNewest: Int) -> SensorReadings {
        SensorReadings(client: self, sensorID: sensorID, bufferSize: max(1, bufferingNewest))
    }

    /// Every message the server sends, raw, including those the typed API skips. Each
    /// access makes a new stream (buffering the newest 1024 messages); finishes on
    /// ``disconnect()``.
    public var frames: AsyncStream<RawFrame> {
        listenerStream(\.frameListeners, bufferingNewest: 1024)
    }

    /// Every `sensor_connection_status` the server sends, answers and unsolicited changes
    /// (e.g. an agent dropping). Finishes on ``disconnect()``.
    public var sensorStatuses: AsyncStream<SensorStatus> {
        listenerStream(\.statusListeners, bufferingNewest: 1024)
    }

    /// A new stream registered in one of the state's listener tables, removed from it when
    /// the consumer goes away; already finished (after `initial`) once the client is closed.
    func listenerStream<Element: Sendable>(
        _ table: WritableKeyPath<ClientState, [UInt64: AsyncStream<Element>.Continuation]> & Sendable,
        bufferingNewest limit: Int, initial: (@Sendable (ClientState) -> Element)? = nil
    ) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(limit))
        let id = state.withLock { state -> UInt64? in
            if let initial { continuation.yield(initial(state)) }
            guard state.lifecycle != .closed else { return nil }
            let id = state.makeID()
            state[keyPath: table][id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0[keyPath: table].removeValue(forKey: id) }
        }
        return stream
    }

    /// Registers a consumer of `sensorID` and returns its queue and id (nil id: finished).
    func attachConsumer(_ sensorID: String, bufferSize: Int? = nil) -> (queue: ReadingQueue, id: UInt64?) {
        let queue = ReadingQueue(capacity: bufferSize ?? configuration.readingBufferSize)
        let valid = (try? SensorClientError.validate(sensorID: sensorID)) != nil
        let id = state.withLock { state -> UInt64? in
            guard valid, state.lifecycle != .closed else { return nil }
            let id = state.makeID()
            state.consumers[sensorID, default: [:]][id] = ClientState.Consumer(queue: queue)
            state.send(state.book.addConsumer(sensorID))
            return id
        }
        guard let id else {
            _ = queue.finish()
            return (queue, nil)
        }
        queue.setOnTermination { [weak self] in
            self?.detachConsumer(sensorID, id)
        }
        return (queue, id)
    }

    /// A consumer ended (loop left, task cancelled, callback removed). Idempotent.
    func detachConsumer(_ sensorID: String, _ id: UInt64) {
        state.withLock { state in
            guard state.consumers[sensorID]?.removeValue(forKey: id) != nil else { return }
            if state.consumers[sensorID]?.isEmpty == true { state.consumers[sensorID] = nil }
            state.send(state.book.removeConsumer(sensorID))
        }
    }
}
