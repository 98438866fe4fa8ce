import ConnectionCore
import Locking

/// The machinery behind a ``FastSlowClient``: its request line, periodic runs, the reconnect
/// driver and the connection hooks. Nothing it runs retains the public object, so an app that
/// lets go of its client shuts it down (the client's `deinit` calls ``shutdown()``).
final class FastSlowClientEngine: Sendable {
    typealias Configuration = FastSlowClient.Configuration

    let host: String
    let port: Int
    let configuration: Configuration

    private typealias Answer = Result<FastSlowAnswer, FastSlowClientError>

    /// Who waits for an answer.
    private enum Waiter: Sendable {
        case call(CheckedContinuation<FastSlowAnswer, any Error>)
        case periodic(UInt64)
    }

    /// A periodic run: its stream, and its one outstanding request.
    private struct Periodic: Sendable {
        let request: FastSlowRequest
        let continuation: AsyncStream<Answer>.Continuation
        var outstanding: (id: UInt64, submittedAt: Duration)?
        var skipped = 0
    }

    /// The client's connection, typed by its codec.
    private typealias Connection = CodecConnection<FastSlowCodec>

    private struct State: Sendable {
        var requests = SerialRequests<Waiter>()
        var connection: Connection?
        var periodics: [UInt64: Periodic] = [:]
        var lastPeriodic: UInt64 = 0
        var started = false
        var wasConnected = false
        var closed = false
    }

    private let state = LockedValue(State())
    private let eventBroadcaster = Broadcaster<FastSlowEvent>(bufferingNewest: 4096)
    private let states = Broadcaster<FastSlowConnectionState>(bufferingNewest: 64)
    private let currentState = LockedValue(FastSlowConnectionState.idle)
    private let driver = LockedValue<Reconnector<Connection, String>?>(nil)
    private let now: @Sendable () -> Duration
    private let sleepUntil: @Sendable (Duration) async throws -> Void
    private let clock: any Clock<Duration>

    init<C: Clock<Duration>>(host: String, port: Int, configuration: Configuration, clock: C) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.clock = clock
        let start = clock.now
        now = { start.duration(to: clock.now) }
        sleepUntil = { offset in try await clock.sleep(until: start.advanced(by: offset), tolerance: nil) }
        let hooks = Reconnector<Connection, String>.Hooks(
            open: { [weak self] attempt in
                guard let self else { return .failure(.init(reason: "client released", detail: FastSlowClientError.closed)) }
                return await self.open(attempt: attempt)
            },
            replaySession: { [weak self] connection, _ in self?.connected(connection) },
            serve: { [weak self] connection in await self?.serve(connection) ?? "client released" },
            drop: { connection in connection.stream.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { [weak self] reason in self?.shutDown(reason: reason) })
        let machine = ReconnectMachine<String>(backoff: .fixed(configuration.reconnectDelay))
        driver.withLock { $0 = Reconnector(machine: machine, hooks: hooks, liveness: nil, clock: clock) }
    }

    /// The app let go of its client: close for good, end every task.
    func shutdown() {
        let connection = driver.withLock { $0 }?.close(reason: "client released")
        shutDown(reason: "client released")
        // A FIN, not a reset: nothing is waited for, so nothing the server sent is lost to us.
        connection?.stream.startClosing("client released")
    }

    /// The client's log as a stream, from the moment of the call; finishes after ``close()``.
    /// Each call makes a new stream; a consumer more than 4,096 events behind loses the oldest.
    var events: AsyncStream<FastSlowEvent> {
        eventBroadcaster.makeStream()
    }

    // MARK: Connecting

    /// Opens the connection (once it is up the client keeps it up by itself). Returns at once
    /// when already connected or reconnecting.
    /// - Throws: ``FastSlowClientError/invalidArgument(_:)`` for a configuration out of range,
    ///   ``FastSlowClientError/connectionFailed(_:)`` when this first attempt fails (call
    ///   again to retry), ``FastSlowClientError/closed`` after ``close()``.
    func connect() async throws(FastSlowClientError) {
        if let problem = configuration.problem { throw .invalidArgument(problem) }
        guard state.withLock({ !$0.closed }) else { throw .closed }
        guard let driver = driver.withLock({ $0 }) else { throw .closed }
        state.withLock { $0.started = true }
        if let failure = await driver.start() {
            throw failure.detail as? FastSlowClientError ?? .connectionFailed(failure.reason)
        }
    }

    /// Closes the connection for good; waiting calls fail with ``FastSlowClientError/closed``,
    /// periodic streams and ``events`` finish.
    func close() {
        let connection = driver.withLock { $0 }?.close(reason: "closed by the app")
        shutDown(reason: "closed by the app")
        connection?.stream.startClosing("closed by the app")
    }

    // MARK: Requests

    /// Asks for the server's time.
    /// - Returns: The answer; ``FastResponse/date`` reads its time.
    /// - Throws: ``FastSlowClientError``.
    func fast() async throws(FastSlowClientError) -> FastResponse {
        guard case .fast(let response) = try await send(.fast) else { throw .connectionLost("wrong answer") }
        return response
    }

    /// Asks the server to sleep `sleepSeconds`, then say how many clients were connected when
    /// it got the request (this one included).
    /// - Parameter sleepSeconds: The sleep; the call's timeout is ``Configuration/requestTimeout`` plus it.
    /// - Returns: The count.
    /// - Throws: ``FastSlowClientError``.
    func slow(sleepSeconds: UInt32) async throws(FastSlowClientError) -> UInt32 {
        guard case .slow(let count) = try await send(.slow(seconds: sleepSeconds)) else { throw .connectionLost("wrong answer") }
        return count
    }

    /// Sends `request` when the line is free (after the requests before it) and waits for its
    /// answer, within ``Configuration/requestTimeout`` (plus the sleep of a slow request).
    /// - Parameter request: The request.
    /// - Returns: The answer.
    /// - Throws: ``FastSlowClientError``; cancelling the task fails it with
    ///   ``FastSlowClientError/cancelled``.
    func send(_ request: FastSlowRequest) async throws(FastSlowClientError) -> FastSlowAnswer {
        let started = state.withLock { $0.started || $0.closed }
        guard started else { throw .notConnected }
        guard !Task.isCancelled else {
            emit(.requestFailed(request, .cancelled))
            throw .cancelled
        }
        do {
            return try await ReplyWaiter.wait(timeout: timeout(for: request), clock: clock) { continuation in
                submit(request, .call(continuation))
            } abandon: { [weak self] id, why in
                self?.abandon(id, with: why == .timedOut ? .timeout : .cancelled)
            }
        } catch let error as FastSlowClientError {
            if error == .timeout || error == .cancelled { emit(.requestFailed(request, error)) }
            throw error  // other failures are logged where they happened
        } catch {
            emit(.requestFailed(request, .cancelled))
            throw .cancelled
        }
    }

    /// Sends `request` every `interval` until the stream is dropped or the client closes. A
    /// tick whose previous request has not been answered sends nothing
    /// (``FastSlowEvent/tickSkipped(_:total:)``); after a reconnect the ticks go on.
    /// - Parameters:
    ///   - interval: 10...1000 ms; outside that the stream holds one
    ///     ``FastSlowClientError/invalidArgument(_:)`` and ends.
    ///   - request: What each tick sends.
    /// - Returns: Each answer or failure, in order.
    func periodic(every interval: Duration, request: FastSlowRequest) -> AsyncStream<Result<FastSlowAnswer, FastSlowClientError>> {
        let (stream, continuation) = AsyncStream<Answer>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        guard Configuration.periodicIntervalRange.contains(interval) else {
            continuation.yield(.failure(.invalidArgument("interval \(interval) is outside 10...1000 ms")))
            continuation.finish()
            return stream
        }
        let registered = state.withLock { state -> UInt64? in
            guard state.started, !state.closed else { return nil }
            state.lastPeriodic += 1
            state.periodics[state.lastPeriodic] = Periodic(request: request, continuation: continuation)
            return state.lastPeriodic
        }
        guard let id = registered else {
            continuation.yield(.failure(state.withLock { $0.closed } ? .closed : .notConnected))
            continuation.finish()
            return stream
        }
        let ticker = Task { [weak self] in
            var next = (self?.now() ?? .zero) + interval
            while !Task.isCancelled {
                do { try await self?.sleepUntil(next) } catch { return }
                guard let self, self.tick(id) else { return }
                next += interval
            }
        }
        continuation.onTermination = { [weak self] _ in
            ticker.cancel()
            self?.endPeriodic(id)
        }
        return stream
    }

    private func timeout(for request: FastSlowRequest) -> Duration {
        if case .slow(let seconds) = request { return configuration.requestTimeout + .seconds(Int64(seconds)) }
        return configuration.requestTimeout
    }

    /// Queues a request; writes it if the line is free. Nil (and the waiter failed) when closed.
    private func submit(_ request: FastSlowRequest, _ waiter: Waiter) -> UInt64? {
        let at = now()
        let outcome = state.withLock { state -> (UInt64, FastSlowRequest?, Connection?)? in
            guard !state.closed else { return nil }
            let (id, send) = state.requests.submit(request, waiter, now: at)
            if let send, state.connection != nil { _ = eventBroadcaster.enqueue(.requestSent(send)) }
            return (id, send, state.connection)
        }
        eventBroadcaster.deliver()
        guard let (id, send, connection) = outcome else {
            if case .call(let continuation) = waiter { continuation.resume(throwing: FastSlowClientError.closed) }
            return nil
        }
        if let send, let connection { write(send, on: connection) }
        return id
    }

    private func write(_ request: FastSlowRequest, on connection: Connection) {
        do {
            try connection.sendNow(request.message)
        } catch {
            // The connection is going: its end fails the request.
            connection.stream.abort()
        }
    }

    /// The caller of `id` stopped waiting. One on the wire blocks the line until its answer:
    /// the connection is dropped instead (the answer would come late or never), and the line
    /// is free again after the reconnect.
    /// Its continuation is resumed with `error`.
    private func abandon(_ id: UInt64, with error: FastSlowClientError) {
        let (waiter, drop) = state.withLock { state -> (Waiter?, Connection?) in
            let onWire = state.requests.sentAt(id: id) != nil
            let waiter = state.requests.abandon(id: id)
            return (waiter, onWire ? state.connection : nil)
        }
        if case .call(let continuation)? = waiter { continuation.resume(throwing: error) }
        drop?.stream.abort()
    }

    /// One periodic tick: sends, or counts a skip (and fails a request past its timeout).
    /// False once the run is over.
    private func tick(_ periodicID: UInt64) -> Bool {
        let at = now()
        enum Outcome { case sent(FastSlowRequest?, Connection?), skipped(Int), expired(dropping: Connection?), over }
        let (request, outcome) = state.withLock { state -> (FastSlowRequest?, Outcome) in
            guard !state.closed, var periodic = state.periodics[periodicID] else { return (nil, .over) }
            defer { state.periodics[periodicID] = periodic }
            let request = periodic.request
            if let (id, submittedAt) = periodic.outstanding {
                guard at - submittedAt >= timeout(for: request) else {
                    periodic.skipped += 1
                    return (request, .skipped(periodic.skipped))
                }
                // Past its timeout: failed; one on the wire takes its connection with it.
                let onWire = state.requests.sentAt(id: id) != nil
                _ = state.requests.abandon(id: id)
                periodic.outstanding = nil
                return (request, .expired(dropping: onWire ? state.connection : nil))
            }
            let (id, send) = state.requests.submit(request, .periodic(periodicID), now: at)
            periodic.outstanding = (id, at)
            if let send, state.connection != nil { _ = eventBroadcaster.enqueue(.requestSent(send)) }
            return (request, .sent(send, state.connection))
        }
        eventBroadcaster.deliver()
        guard let request else { return false }
        switch outcome {
        case .over:
            return false
        case .sent(let send, let connection):
            if let send, let connection { write(send, on: connection) }
        case .skipped(let total):
            emit(.tickSkipped(request, total: total))
        case .expired(let connection):
            deliver(.failure(.timeout), to: periodicID)
            emit(.requestFailed(request, .timeout))
            connection?.stream.abort()
        }
        return true
    }

    private func endPeriodic(_ id: UInt64) {
        state.withLock { state in
            if let outstanding = state.periodics.removeValue(forKey: id)?.outstanding?.id { _ = state.requests.abandon(id: outstanding) }
        }
    }

    /// Yields a periodic run's result and frees its line.
    private func deliver(_ result: Answer, to periodicID: UInt64) {
        let continuation = state.withLock { state -> AsyncStream<Answer>.Continuation? in
            state.periodics[periodicID]?.outstanding = nil
            return state.periodics[periodicID]?.continuation
        }
        continuation?.yield(result)
    }

    // MARK: Connection hooks

    private func open(attempt: Int) async -> Result<Connection, Reconnector<Connection, String>.OpenFailure> {
        do {
            let stream = try await StreamConnector.open(
                host: host, port: port, codec: FastSlowCodec(maxMessageSize: configuration.maxMessageSize), handshake: nil,
                timeout: configuration.connectTimeout, tls: configuration.tls)
            return .success(Connection(stream))
        } catch {
            let reason = "\(error)"
            return .failure(.init(reason: reason, detail: FastSlowClientError.connectionFailed(reason)))
        }
    }

    /// A connection is up: the first queued request goes out.
    private func connected(_ connection: Connection) {
        let at = now()
        let send = state.withLock { state -> FastSlowRequest? in
            state.connection = connection
            let send = state.requests.connected(now: at)
            if let send { _ = eventBroadcaster.enqueue(.requestSent(send)) }
            return send
        }
        eventBroadcaster.deliver()
        if let send { write(send, on: connection) }
    }

    /// Matches answers to the request in flight until the connection ends; says why it ended.
    private func serve(_ connection: Connection) async -> String {
        var reason = "connection closed by the server"
        reading: while let batch = await connection.receiveBatch() {
            for item in batch {
                switch item {
                case .message(let messages):
                    for message in messages {
                        if let problem = received(message, on: connection) {
                            reason = problem
                            connection.stream.abort()
                            break reading
                        }
                    }
                case .failed(let failure):
                    reason = failure.description
                    connection.stream.abort()
                    break reading
                }
            }
        }
        let lost = state.withLock { state -> SerialRequests<Waiter>.Entry? in
            if state.connection == connection { state.connection = nil }
            return state.requests.connectionLost()
        }
        if let lost {
            fail(lost, with: .connectionLost(reason))
        }
        return reason
    }

    /// Handles one message; the reason to drop the connection if it breaks the protocol.
    private func received(_ message: WrapperMessage, on connection: Connection) -> String? {
        let at = now()
        // Events are recorded under the lock, so the log's order is the line's order (an answer
        // can come back before a writer outside the lock would have logged its request).
        let arrival = state.withLock { state -> SerialRequests<Waiter>.Arrival in
            let arrival = state.requests.received(message, now: at)
            if case .answered(_, _, let answer, let roundTrip, let next) = arrival {
                _ = eventBroadcaster.enqueue(.responseReceived(answer, roundTrip: roundTrip))
                if let next { _ = eventBroadcaster.enqueue(.requestSent(next)) }
            }
            return arrival
        }
        eventBroadcaster.deliver()
        switch arrival {
        case .unexpected(let problem):
            // After close the line is empty: the answer to what was on the wire still comes
            // and is dropped quietly while the close finishes.
            return state.withLock { $0.closed } ? nil : problem
        case .answered(let waiter, _, let answer, _, let next):
            if let next { write(next, on: connection) }
            switch waiter {
            case .call(let continuation)?: continuation.resume(returning: answer)
            case .periodic(let id)?: deliver(.success(answer), to: id)
            case nil: break  // abandoned: its answer is dropped
            }
            return nil
        }
    }

    private func fail(_ entry: SerialRequests<Waiter>.Entry, with error: FastSlowClientError) {
        switch entry.waiter {
        case .call(let continuation)?: continuation.resume(throwing: error)
        case .periodic(let id)?: deliver(.failure(error), to: id)
        case nil: break
        }
        emit(.requestFailed(entry.request, error))
    }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    var connectionStates: AsyncStream<FastSlowConnectionState> {
        let stream = currentState.withLock { states.makeStream(initial: $0) }
        states.deliver()
        return stream
    }

    private func publish(_ machineState: ReconnectMachine<String>.State) {
        currentState.withLock { current in
            current = switch machineState {
            case .idle: .idle
            case .connecting(let attempt): .connecting(attempt: attempt)
            case .connected: .connected
            case .backingOff(let attempt, let delay, let reason): .reconnecting(attempt: attempt, delay: delay, reason: reason)
            case .closed(let reason): .closed(reason: reason)
            }
            _ = states.enqueue(current)
        }
        states.deliver()
        switch machineState {
        case .idle:
            break
        case .connecting(let attempt):
            emit(.connecting(attempt: attempt))
        case .connected:
            state.withLock { $0.wasConnected = true }
            emit(.connected("\(host):\(port)"))
        case .backingOff(let attempt, let delay, let reason):
            let wasConnected = state.withLock { state -> Bool in
                defer { state.wasConnected = false }
                return state.wasConnected
            }
            emit(wasConnected ? .connectionLost(reason) : .connectFailed(reason))
            emit(.reconnecting(in: delay, attempt: attempt))
        case .closed:
            break
        }
    }

    /// Ends everything: waiters fail, periodic streams and events finish.
    private func shutDown(reason: String) {
        let (waiters, periodics, first) = state.withLock { state -> ([Waiter], [Periodic], Bool) in
            let first = !state.closed
            state.closed = true
            defer { state.periodics = [:] }
            return (state.requests.removeAll(), Array(state.periodics.values), first)
        }
        for case .call(let continuation) in waiters { continuation.resume(throwing: FastSlowClientError.closed) }
        for periodic in periodics {
            if periodic.outstanding != nil { periodic.continuation.yield(.failure(.closed)) }
            periodic.continuation.finish()
        }
        guard first else { return }
        currentState.withLock { current in
            if case .closed = current { return }
            current = .closed(reason: reason)
            _ = states.enqueue(current)
        }
        states.finish()
        emit(.closed(reason))
        eventBroadcaster.finish()
    }

    private func emit(_ event: FastSlowEvent) {
        eventBroadcaster.yield(event)
    }
}
