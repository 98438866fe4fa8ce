import ConnectionCore
import Locking
import SensorWire
import WebSocketCore
import WebSocketIO

/// The machinery behind a ``SensorClient``: its state, the reconnect driver and the
/// connection hooks. The public object only forwards to it, so nothing the engine runs
/// (driver task, reader, heartbeat, callback tasks) retains the public object: when the app
/// lets go of its client, the client's `deinit` shuts the engine down.
final class ClientEngine: Sendable {
    let host: String
    let port: Int
    let configuration: SensorClient.Configuration
    let clock: any Clock<Duration>
    /// The loop every connection of this client runs on.
    let loop: EventLoop = .shared
    private let state = LockedValue(LiveClientState())
    private let frames: Broadcaster<RawFrame>
    private let states: Broadcaster<ConnectionState>
    private let statuses: Broadcaster<SensorStatus>
    /// The full `.lossless` queue that stopped the loop thread's delivery (``handleOnLoop(_:)``),
    /// until the reading task, handed the rest of that batch, has waited for its room.
    private let blockedOnLoop = LockedValue<ReadingQueue?>(nil)
    /// Set once in `init` (the hooks need `self`), read-only after.
    private let driver = LockedValue<Reconnector<WebSocketConnection, DisconnectReason>?>(nil)

    init(host: String, port: Int, configuration: SensorClient.Configuration, clock: any Clock<Duration>) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.clock = clock
        (frames, states, statuses) = state.withLock { ($0.frames, $0.states, $0.statuses) }
        let machine = ReconnectMachine<DisconnectReason>(backoff: configuration.reconnect.backoff) { reason in
            DisconnectReason(closeCode: reason.closeCode, message: "gave up reconnecting after \(reason)")
        }
        let heartbeat = configuration.heartbeat
        let liveness = heartbeat.isEnabled ? Reconnector<WebSocketConnection, DisconnectReason>.Liveness(
            interval: heartbeat.interval, timeout: heartbeat.timeout,
            reason: DisconnectReason(closeCode: nil, message: "no pong within \(heartbeat.timeout.formattedSeconds)"),
            probe: { connection in (try? await connection.ping()) != nil },
            pauseEpoch: { connection in connection.core.readingPauseEpoch }) : nil
        let hooks = Reconnector<WebSocketConnection, DisconnectReason>.Hooks(
            open: { [weak self] _ in
                guard let self else { return .failure(.init(reason: .released, detail: SensorClientError.disconnected)) }
                return await self.open()
            },
            replaySession: { [weak self] connection, isReconnect in
                self?.withState { $0.replay(on: connection, isReconnect: isReconnect) }
            },
            serve: { [weak self] connection in
                await self?.serve(connection) ?? .released
            },
            drop: { connection in connection.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { [weak self] reason in self?.giveUp(reason) })
        driver.withLock { $0 = Reconnector(machine: machine, hooks: hooks, liveness: liveness, clock: clock) }
    }

    private var reconnector: Reconnector<WebSocketConnection, DisconnectReason> {
        guard let driver = driver.withLock({ $0 }) else { preconditionFailure("Internal inconsistency: no driver") }
        return driver
    }

    /// Runs `body` under the client's lock; then queues the messages it sent on the connection
    /// (still under the lock, so their order is the lock's order), and after releasing it
    /// writes them and delivers what the broadcasters were given.
    @discardableResult @inline(__always)
    func withState<Result, Failure: Error>(_ body: (inout LiveClientState) throws(Failure) -> Result) throws(Failure) -> Result {
        var connection: WebSocketConnection?
        var overflowed = false
        var deliver = false
        let result = try state.withLock { (state) throws(Failure) -> Result in
            let result = try body(&state)
            (connection, overflowed) = Self.queueOutbox(&state)
            deliver = state.broadcastPending
            state.broadcastPending = false
            return result
        }
        if overflowed { connection?.abort() } else { connection?.flush() }
        if deliver {
            states.deliver()
            frames.deliver()
            statuses.deliver()
        }
        return result
    }

    /// Queues the state's outbox on its connection (under the client's lock). Returns the
    /// connection to flush, and whether it refused (full or closing: it is done, and the next
    /// connection gets the whole session state).
    private static func queueOutbox(_ state: inout LiveClientState) -> (WebSocketConnection?, Bool) {
        let messages = state.takeOutbox()
        guard let connection = state.connection, !messages.isEmpty else { return (nil, false) }
        do {
            try connection.enqueue(texts: messages.map { SensorProtocol.encode($0.envelope) })
            return (connection, false)
        } catch {
            return (connection, true)
        }
    }

    // MARK: Lifecycle

    func connect() async throws(SensorClientError) {
        let proceed = try withState { (state) throws(SensorClientError) -> Bool in
            switch state.lifecycle {
            case .closed: throw .disconnected
            case .running: return false
            case .notStarted:
                state.lifecycle = .running
                return true
            }
        }
        guard proceed else { return }
        guard let failure = await reconnector.start() else { return }
        withState { state in
            if case .running = state.lifecycle { state.lifecycle = .notStarted }
        }
        throw failure.detail as? SensorClientError ?? .disconnected
    }

    func disconnect() async {
        let reason = DisconnectReason(closeCode: 1000, message: "disconnected by the app")
        guard let teardown = close(reason: reason) else { return }
        let connection = reconnector.close(reason: reason)
        teardown.run(error: .disconnected)
        if let connection { await connection.close() }
    }

    /// The app let go of its client: close politely without waiting, end every task.
    func shutdown() {
        let reason = DisconnectReason(closeCode: 1001, message: "client released")
        let teardown = close(reason: reason)
        let connection = reconnector.close(reason: reason)
        teardown?.run(error: .disconnected)
        if let connection {
            Task { await connection.close(code: .goingAway, reason: "client released") }
        }
    }

    /// Sends `client_disconnect` (if connected) and closes the state for good; nil if it was
    /// closed already.
    private func close(reason: DisconnectReason) -> LiveClientState.Teardown? {
        withState { $0.disconnect(reason: reason) }
    }

    var connectionStates: AsyncStream<ConnectionState> {
        withState { state in
            state.broadcastPending = true
            return state.states.makeStream(initial: state.connectionState)
        }
    }

    var frameStream: AsyncStream<RawFrame> { frames.makeStream() }
    var statusStream: AsyncStream<SensorStatus> { statuses.makeStream() }
    var currentState: ConnectionState { state.withLock { $0.connectionState } }
    var statistics: ClientStatistics {
        var statistics = state.withLock { $0.statistics }
        statistics.framesDropped = frames.dropped
        statistics.sensorStatusesDropped = statuses.dropped
        statistics.connectionStatesDropped = states.dropped
        return statistics
    }

    // MARK: Requests

    func sensorConnected(_ sensorID: String) async throws(SensorClientError) -> Bool {
        try SensorClientError.validate(sensorID: sensorID)
        guard case .status(let connected) = try await request({ state, waiter in state.requestStatus(sensorID, waiter) }) else {
            throw .timeout  // unreachable: a status request is answered with a status
        }
        return connected
    }

    func sendCommand(to sensorID: String, service: String, data: JSONValue) async throws(SensorClientError) -> CommandResponse {
        try SensorClientError.validate(sensorID: sensorID)
        let requestID = "c\(state.withLock { $0.makeID() })"
        guard case .command(let response) = try await request({ state, waiter in
            state.requestCommand(requestID: requestID, sensorID: sensorID, service: service, data: data, waiter)
        }) else { throw .timeout }
        return response
    }

    func sensors() async throws(SensorClientError) -> [SensorInfo] {
        guard case .sensors(let list) = try await request({ state, waiter in state.requestSensors(waiter) }) else { throw .timeout }
        return list
    }

    func history(_ sensorID: String, field: String?, from: Int, to: Int, maxPoints: Int?) async throws(SensorClientError) -> SensorHistory {
        try SensorClientError.validate(sensorID: sensorID)
        let limit = Int(HistoryRequest.maxTimeMagnitude)
        guard (-limit...limit).contains(from), (-limit...limit).contains(to) else {
            throw .invalidArgument("from and to must lie within ±2^53 unix seconds")
        }
        guard from <= to else { throw .invalidArgument("from (\(from)) is after to (\(to))") }
        if let maxPoints, maxPoints < 1 { throw .invalidArgument("maxPoints must be at least 1") }
        if let field, field.isEmpty || field.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            throw .invalidArgument("field must be a field name without whitespace or control characters")
        }
        let requestID = "h\(state.withLock { $0.makeID() })"
        let request = HistoryRequest(requestID: requestID, sensorID: sensorID, field: field, from: Int64(from), to: Int64(to), maxPoints: maxPoints)
        guard case .history(let outcome) = try await self.request({ state, waiter in state.requestHistory(request, waiter) }) else {
            throw .timeout  // unreachable: a history request is answered with a history
        }
        return try outcome.get()
    }

    /// Registers a request with `register` (which sends it, now or on the next connection) and
    /// waits for its reply within the request timeout.
    private func request(_ register: (inout LiveClientState, CheckedContinuation<ClientReply, any Error>) -> UInt64)
        async throws(SensorClientError) -> ClientReply {
        try state.withLock { (state) throws(SensorClientError) in
            switch state.lifecycle {
            case .notStarted: throw .notConnected
            case .closed: throw .disconnected
            case .running: break
            }
        }
        guard !Task.isCancelled else { throw .cancelled }
        do {
            return try await ReplyWaiter.wait(timeout: configuration.requestTimeout, clock: clock) { continuation in
                let (id, failure) = withState { state -> (UInt64?, SensorClientError?) in
                    guard state.lifecycle != .closed else { return (nil, .disconnected) }
                    return (register(&state, continuation), nil)
                }
                if let failure { continuation.resume(throwing: failure) }
                return id
            } abandon: { [weak self] id, why in
                let waiter = self?.withState { $0.cancelRequest(id) }
                waiter?.resume(throwing: why == .timedOut ? SensorClientError.timeout : SensorClientError.cancelled)
            }
        } catch let error as SensorClientError {
            throw error
        } catch {
            throw .cancelled
        }
    }

    // MARK: Subscriptions and consumers

    func subscribe(_ sensorID: String) throws(SensorClientError) {
        try SensorClientError.validate(sensorID: sensorID)
        try withState { (state) throws(SensorClientError) in
            guard state.lifecycle != .closed else { throw .disconnected }
            state.subscribe(sensorID)
        }
    }

    func unsubscribe(_ sensorID: String) throws(SensorClientError) {
        try SensorClientError.validate(sensorID: sensorID)
        let ended = try withState { (state) throws(SensorClientError) -> LiveClientState.Teardown in
            guard state.lifecycle != .closed else { throw .disconnected }
            return state.unsubscribe(sensorID)
        }
        ended.run(error: .disconnected)
    }

    /// Registers a consumer of `sensorID` and returns its queue and id (nil id: finished).
    func attachConsumer(_ sensorID: String, buffering: ReadingBuffering? = nil) -> (queue: ReadingQueue, id: UInt64?) {
        let buffering = buffering ?? configuration.readingBuffering
        let queue = ReadingQueue(capacity: buffering.limit, lossless: buffering.isLossless)
        let valid = (try? SensorClientError.validate(sensorID: sensorID)) != nil
        let id = withState { state -> UInt64? in
            guard valid, state.lifecycle != .closed else { return nil }
            return state.addConsumer(sensorID, queue: queue)
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

    /// How many consumers (loops, callbacks) read `sensorID` now.
    func consumerCount(_ sensorID: String) -> Int {
        state.withLock { $0.consumers[sensorID]?.count ?? 0 }
    }

    /// Whether a consumer of `sensorID` has taken everything and waits for more (tests use
    /// it to know that an operator above the stream has seen every reading so far).
    func consumerIsWaiting(_ sensorID: String) -> Bool {
        state.withLock { $0.consumers[sensorID]?.values.contains { $0.queue.isConsumerWaiting } ?? false }
    }

    /// Whether the reading task waits for room in a `.lossless` consumer of `sensorID` (tests).
    func producerIsWaiting(_ sensorID: String) -> Bool {
        state.withLock { $0.consumers[sensorID]?.values.contains { $0.queue.isProducerWaiting } ?? false }
    }

    /// The open connection's reading state (tests assert backpressure with it): whether it
    /// paused reading the socket, and how many received bytes wait in its inbox.
    var connectionBacklog: (readingPaused: Bool, inboxBytes: Int)? {
        guard let connection = reconnector.connection else { return nil }
        return (connection.core.isReadingPaused, connection.core.inboundBufferedBytes)
    }

    /// The open connection's pause epoch: odd while reading is paused, one more at every start
    /// and end of a pause (tests see that a pause ended even if another began since).
    var readingPauseEpoch: UInt64? { reconnector.connection?.core.readingPauseEpoch }

    /// Drops the open connection as a network failure would (tests: one loss, one reconnect).
    func abortConnection() {
        reconnector.connection?.abort()
    }

    /// How many `sensorConnected` calls for `sensorID` wait for their answer now.
    func waitingRequests(_ sensorID: String) -> Int {
        state.withLock { $0.pending.count(sensorID) }
    }

    /// A consumer ended (loop left, task cancelled, callback removed). Idempotent.
    func detachConsumer(_ sensorID: String, _ id: UInt64) {
        withState { $0.removeConsumer(sensorID, id: id) }
    }

    /// Keeps a callback's task with its consumer; false (the caller cancels it) if the
    /// consumer is already gone.
    func registerCallbackTask(_ sensorID: String, consumerID: UInt64, _ task: Task<Void, Never>) -> Bool {
        state.withLock { state in
            guard state.lifecycle != .closed, state.consumers[sensorID]?[consumerID] != nil else { return false }
            state.callbacks[sensorID, default: []].append((consumerID, task))
            return true
        }
    }

    /// Removes every callback of a sensor and releases their consumers.
    func removeCallbacks(_ sensorID: String) {
        let removed = withState { $0.removeCallbacks(sensorID) }
        for (queue, task) in removed {
            queue?.finish().resume()
            task.cancel()
        }
    }

    // MARK: Connection hooks

    /// Opens one WebSocket connection; connectTimeout bounds TCP connect and handshake together.
    private func open() async -> Result<WebSocketConnection, Reconnector<WebSocketConnection, DisconnectReason>.OpenFailure> {
        let limits = WebSocketSession.Configuration(maxFrameSize: configuration.maxMessageSize,
                                                    maxMessageSize: configuration.maxMessageSize)
        let webSocketConfiguration = WebSocketConfiguration(limits: limits, connectTimeout: configuration.connectTimeout,
                                                            handshakeTimeout: configuration.connectTimeout,
                                                            extraHeaders: configuration.token.map { [("Authorization", "Bearer \($0)")] } ?? [],
                                                            deflate: configuration.compression.deflateConfiguration,
                                                            tls: configuration.tls)
        let error: SensorClientError
        do {
            return .success(try await WebSocketConnection.connect(host: host, port: port, path: configuration.path,
                                                                  configuration: webSocketConfiguration, loop: loop))
        } catch .cancelled {
            error = .disconnected
        } catch .tlsFailed(let failure) {
            error = .tls(failure)
        } catch .handshakeFailed(.unexpectedStatus(let status, _)) where status == 401 || status == 403 {
            // Not a protocol violation: the hub answered, and refused us.
            error = .connectionFailed(reason: status == 401
                ? "refused by the hub: 401 Unauthorized (it requires an app token: Configuration.token)"
                : "refused by the hub: 403 Forbidden (a foreign Origin, or the token lacks the right)")
        } catch .handshakeFailed(let failure) where failure != .connectionClosed {
            // The server answered, but not as RFC 6455 requires.
            error = .protocolViolation("handshake: \(failure)")
        } catch let other {
            error = .connectionFailed(reason: other.description)
        }
        return .failure(.init(reason: DisconnectReason(closeCode: nil, message: error.description), detail: error))
    }

    /// Reads one connection until it ends and says why it ended.
    ///
    /// While nothing is queued the loop thread delivers small batches itself
    /// (``handleOnLoop(_:)``); this task wakes for large ones (a flood is then decoded here
    /// while the loop reads on), for a consumer that is full, and at the end.
    private func serve(_ connection: WebSocketConnection) async -> DisconnectReason {
        while let batch = await connection.receiveInline({ [weak self] batch in self?.handleOnLoop(batch) ?? 0 }) {
            if let queue = blockedOnLoop.withLock({ blocked in defer { blocked = nil }; return blocked }) {
                await queue.waitForRoom()
                if Task.isCancelled { continue }  // shutting down: the next receive ends
            }
            if !batch.isEmpty { await handle(batch) }
        }
        let closure = await connection.closed()
        withState { $0.connectionEnded(connection) }
        if let error = closure.error {
            return DisconnectReason(closeCode: Int(error.closeCode.rawValue), message: "protocol violation: \(error)")
        }
        return DisconnectReason(closeCode: Int(closure.code.rawValue), message: closure.reason.isEmpty
                                ? (closure.code == .abnormalClosure ? "connection lost" : "") : closure.reason)
    }

    /// Dispatches a batch of messages from the server: decoded outside the lock, delivered
    /// under one lock acquisition, consumers and requests resumed after it.
    ///
    /// When a `.lossless` consumer is full, waits until it makes room (or goes away) and goes
    /// on from the message that stopped: meanwhile nothing reads the connection, whose inbox
    /// fills until it stops reading the socket, and TCP holds the server back.
    private func handle(_ batch: [WebSocketMessage]) async {
        let decoded = LiveClientState.decode(batch)
        var start = 0
        while true {
            let deliveries = withState { $0.receive(decoded, from: start) }
            deliveries.run()
            guard let (index, queue) = deliveries.blocked else { return }
            start = index
            await queue.waitForRoom()
            // Shutting down (the client closed, which also finished the queue): stop here.
            if Task.isCancelled { return }
        }
    }

    /// At most this many messages of one read are delivered by the loop thread itself...
    static let loopDeliveryLimit = 32
    /// ... and at most this many bytes of them (a history answer or a sensor list can be
    /// large: the reading task decodes it).
    static let loopDeliveryBytes = 16 * 1024

    /// On the loop thread: delivers a small batch (decoded outside the lock as ``handle(_:)``
    /// does) and returns how many messages it took: all of them, none when the batch is too
    /// large for the loop (this client's reading task takes it), or those before a full
    /// `.lossless` consumer (the reading task waits for its room and goes on from there).
    private func handleOnLoop(_ batch: [WebSocketMessage]) -> Int {
        guard batch.count <= Self.loopDeliveryLimit else { return 0 }
        var bytes = 0
        for message in batch {
            switch message {
            case .text(let text): bytes += text.utf8.count
            case .binary(let data): bytes += data.count
            }
        }
        guard bytes <= Self.loopDeliveryBytes else { return 0 }
        let decoded = LiveClientState.decode(batch)
        let deliveries = withState { $0.receive(decoded, from: 0) }
        deliveries.run()
        guard let (index, queue) = deliveries.blocked else { return batch.count }
        // Counted once, here; the reading task waits for the room before it goes on.
        blockedOnLoop.withLock { $0 = queue }
        return index
    }

    private func publish(_ machineState: ReconnectMachine<DisconnectReason>.State) {
        let mapped: ConnectionState
        switch machineState {
        case .idle: mapped = .idle
        case .connecting(let attempt): mapped = .connecting(attempt: attempt)
        case .connected: mapped = .connected
        case .backingOff(let attempt, let delay, let reason): mapped = .reconnecting(attempt: attempt, delay: delay, reason: reason)
        case .closed: return  // the client's close publishes `disconnected` with its teardown
        }
        withState { state in
            guard state.lifecycle != .closed else { return }
            state.publish(mapped)
        }
    }

    /// Reconnecting is exhausted: the client closes for good.
    private func giveUp(_ reason: DisconnectReason) {
        let teardown = withState { state -> LiveClientState.Teardown? in
            guard state.lifecycle == .running else { return nil }
            return state.close(reason: reason)
        }
        teardown?.run(error: .notConnected)
    }
}

extension DisconnectReason {
    /// The client object was released while a hook ran.
    static let released = DisconnectReason(closeCode: nil, message: "client released")
}
