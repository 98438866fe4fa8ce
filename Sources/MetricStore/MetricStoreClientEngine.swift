import ConnectionCore
import Foundation
import Locking

/// The machinery behind a ``MetricStoreClient``: its request table, the reconnect driver and
/// the connection hooks. Nothing it runs retains the public object, so an app that lets go of
/// its client shuts it down (the client's `deinit` calls ``shutdown()``).
final class MetricStoreClientEngine: Sendable {
    let host: String
    let port: Int
    let configuration: MetricStoreClient.Configuration
    private let clock: any Clock<Duration>

    /// Who waits for an answer: one call, or a recorder's window (many puts, one counter).
    private enum Waiter: Sendable {
        case call(CheckedContinuation<MetricAnswer, any Error>)
        case window(RecordWindow)
    }
    /// What is on the wire: one command, or a batch of a recorder's puts (one table entry,
    /// answered once per put).
    private enum Request: Sendable {
        case command(MetricCommand)
        case puts([MetricSample])
    }
    /// The client's connection, typed by its codec.
    private typealias Connection = CodecConnection<MetricClientCodec>

    private struct State: Sendable {
        var requests = PipelinedRequests<Request, Waiter>()
        var connection: Connection?
        var started = false
        var closed: String?
    }

    private let state = LockedValue(State())
    private let states = Broadcaster<MetricConnectionState>(bufferingNewest: 64)
    private let currentState = LockedValue(MetricConnectionState.idle)
    private let driver = LockedValue<Reconnector<Connection, String>?>(nil)
    private let startGate = LockedValue<Task<MetricStoreClientError?, Never>?>(nil)

    init(host: String, port: Int, configuration: MetricStoreClient.Configuration, clock: any Clock<Duration>) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.clock = clock
        let hooks = Reconnector<Connection, String>.Hooks(
            open: { [weak self] _ in
                guard let self else { return .failure(.init(reason: "client released", detail: MetricStoreClientError.connectionLost("client released"))) }
                return await self.open()
            },
            replaySession: { [weak self] connection, _ in self?.replay(on: connection) },
            serve: { [weak self] connection in await self?.serve(connection) ?? "client released" },
            drop: { connection in connection.stream.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { [weak self] reason in self?.fail(all: .connectionLost(reason)) })
        driver.withLock { $0 = Reconnector(machine: ReconnectMachine(backoff: configuration.reconnect), hooks: hooks, liveness: nil, clock: clock) }
    }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    var connectionStates: AsyncStream<MetricConnectionState> {
        let stream = currentState.withLock { states.makeStream(initial: $0) }
        states.deliver()
        return stream
    }

    // MARK: Calls

    /// Stores a value (`put <key> <value> <timestamp>`).
    /// - Parameters:
    ///   - key: The metric: 1+ characters, no whitespace, not `*`.
    ///   - value: A finite value.
    ///   - timestamp: Unix seconds; nil: now, whole seconds.
    /// - Throws: ``MetricStoreClientError``.
    func put(_ key: String, _ value: Double, timestamp: Int? = nil) async throws(MetricStoreClientError) {
        try Self.validate(key: key, allowStar: false)
        guard value.isFinite else { throw .invalidValue(value) }
        let seconds = timestamp ?? Int(Date().timeIntervalSince1970)
        let answer = try await call(.put(key: key, value: value, timestamp: Int64(seconds)))
        if case .error(let text) = answer { throw .serverError(text) }
    }

    /// Reads the points of a key, or of every key for `*`.
    /// - Parameter key: A key, or `*`.
    /// - Returns: Points by key, each key's sorted by timestamp; empty when nothing matches.
    /// - Throws: ``MetricStoreClientError``.
    func get(_ key: String) async throws(MetricStoreClientError) -> [String: [MetricPoint]] {
        try Self.validate(key: key, allowStar: true)
        return try Self.points(try await call(.get(key: key)))
    }

    /// Reads the points of a key (of every key for `*`) from `from` to `to`, inclusive
    /// (`get <key> <from> <to>`).
    func get(_ key: String, from: Int, to: Int) async throws(MetricStoreClientError) -> [String: [MetricPoint]] {
        try Self.validate(key: key, allowStar: true)
        guard from <= to else { throw .invalidRange(from: from, to: to) }
        let answer = try await call(.getRange(key: key, from: Int64(from), to: Int64(to)))
        // The line is well formed (checked above): `wrong command` means a server without
        // range reads.
        if case .error("wrong command") = answer { throw .unsupportedByServer("range reads (get <key> <from> <to>)") }
        return try Self.points(answer)
    }

    /// A `get` answer's points by key, each key's sorted by timestamp.
    private static func points(_ answer: MetricAnswer) throws(MetricStoreClientError) -> [String: [MetricPoint]] {
        switch answer {
        case .error(let text):
            throw .serverError(text)
        case .ok(let records):
            var points: [String: [MetricPoint]] = [:]
            for record in records { points[record.key, default: []].append(record.point) }
            for key in points.keys { points[key]?.sort() }
            return points
        }
    }

    /// Puts every sample of `samples`, keeping at most `window` commands in flight: when the
    /// window is full it stops pulling from the sequence until answers come (backpressure).
    /// Commands go out in batches, one counter for the whole window instead of a waiter per put.
    /// Waits without a timeout; a connection lost for good fails it.
    /// - Parameters:
    ///   - samples: The samples, in order.
    ///   - window: Commands in flight at most (at least 1).
    /// - Returns: How many samples were stored.
    /// - Throws: ``MetricStoreClientError`` (an invalid sample: the ones before it are stored
    ///   first, nothing of it or after it is sent; the first put the server refused; a lost
    ///   connection); what the sequence threw (after what came before it is stored).
    func record<Samples: AsyncSequence>(_ samples: Samples, window: Int = 1024) async throws -> Int
    where Samples.Element == MetricSample {
        let recorder = try await Recorder(engine: self, window: window)
        // This task pulls from the sequence into a small lossless buffer; a child task sends
        // whatever the buffer holds: a slow sequence's sample goes out at once, a fast one's
        // a batch at a time, and the buffer's bound holds the sequence back while the window
        // is full.
        let buffer = ConsumerQueue<MetricSample>(capacity: recorder.batchSize, lossless: true)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do throws(MetricStoreClientError) {
                    while let batch = await buffer.take() { try await recorder.send(batch) }
                } catch {
                    buffer.terminate()  // the sequence stops being read
                    throw error
                }
            }
            do {
                for try await sample in samples {
                    if !buffer.hasRoom { await buffer.waitForRoom() }
                    // The sender failed (an invalid sample, the server, the connection), or the
                    // caller was cancelled: the sequence is no longer read.
                    if Task.isCancelled || buffer.isTerminated { break }
                    let (_, wake) = buffer.push(sample)
                    wake?.resume()
                }
            } catch {
                // What the sequence threw ends the recording: what came before is stored first.
                buffer.finish().resume()
                try await group.waitForAll()
                _ = try await recorder.finish()
                throw error
            }
            buffer.finish().resume()
            try await group.waitForAll()
            return try await recorder.finish()
        }
    }

    /// `record` from a sequence at hand (an array, a batch the caller collected):
    /// no suspension per sample, only when the window is full.
    func record<Samples: Sequence>(_ samples: Samples, window: Int = 1024) async throws(MetricStoreClientError) -> Int
    where Samples.Element == MetricSample {
        let recorder = try await Recorder(engine: self, window: window)
        var batch: [MetricSample] = []
        batch.reserveCapacity(recorder.batchSize)
        for sample in samples {
            batch.append(sample)
            if batch.count >= recorder.batchSize {
                try await recorder.send(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try await recorder.send(batch)
        return try await recorder.finish()
    }

    /// One recording: its window of puts in flight, sent a batch at a time.
    private struct Recorder: Sendable {
        let engine: MetricStoreClientEngine
        let limit: Int
        /// Puts per batch: one table entry, one write, one wake-up of the recorder.
        let batchSize: Int
        let window = RecordWindow()

        init(engine: MetricStoreClientEngine, window: Int) async throws(MetricStoreClientError) {
            guard !Task.isCancelled else { throw .cancelled }
            if let failure = await engine.ensureStarted() { throw failure }
            self.engine = engine
            limit = max(1, window)
            batchSize = max(1, min(256, limit / 4))
        }

        /// Checks `batch` and sends it, ``batchSize`` puts at a time, each once the window has
        /// room for it. At an invalid sample the ones before it are sent, every answer awaited,
        /// and the sample's error thrown.
        func send(_ batch: [MetricSample]) async throws(MetricStoreClientError) {
            guard batch.count <= batchSize else {
                var start = 0
                while start < batch.count {
                    let end = min(batch.count, start + batchSize)
                    try await send(Array(batch[start..<end]))
                    start = end
                }
                return
            }
            guard !batch.isEmpty else { return }
            var valid = batch.endIndex
            var invalid: MetricStoreClientError?
            for (index, sample) in batch.enumerated() {
                do throws(MetricStoreClientError) {
                    try MetricStoreClientEngine.validate(key: sample.key, allowStar: false)
                    guard sample.value.isFinite else { throw .invalidValue(sample.value) }
                } catch {
                    valid = index
                    invalid = error
                    break
                }
            }
            if valid > 0 {
                await window.wait(untilAtMost: limit - min(limit, valid))
                if let failure = window.failure { throw failure }
                window.sent(valid)
                let puts = valid == batch.count ? batch : Array(batch[..<valid])
                if case .closed(let reason) = engine.queue(puts: puts, window: window) {
                    window.fail(.connectionLost(reason), count: valid)
                    throw .connectionLost(reason)
                }
            }
            if let invalid {
                _ = try await finish()
                throw invalid
            }
        }

        /// Waits for every answer; returns how many puts were stored, or the first failure.
        func finish() async throws(MetricStoreClientError) -> Int {
            await window.wait(untilAtMost: 0)
            if let failure = window.failure { throw failure }
            return window.stored
        }
    }

    /// What ``queue(_:waiter:recorded:)`` did.
    private enum QueueOutcome {
        /// Recorded; sent now, or when the next connection is replayed.
        case queued
        /// The client is closed: nothing recorded.
        case closed(String)
    }

    /// Records `command` with `waiter` in the requests table and queues it on the connection
    /// under the client's lock, so the wire order is the table's order; writes it after the
    /// lock is released. Without a connection it goes out when the next one is replayed; a
    /// connection that refuses (closing, or megabytes behind) is dropped, and the next one gets
    /// every waiting command again, in order. `recorded` gets the request's id (under the lock).
    private func queue(_ command: MetricCommand, waiter: Waiter, recorded: (UInt64) -> Void = { _ in }) -> QueueOutcome {
        queue(.command(command), answers: 1, waiter: waiter, output: .command(command), recorded: recorded)
    }

    /// Queues a recorder's batch of checked puts as one request owed an answer per put.
    private func queue(puts: [MetricSample], window: RecordWindow) -> QueueOutcome {
        queue(.puts(puts), answers: puts.count, waiter: .window(window), output: .puts(puts[...]))
    }

    private func queue(_ request: Request, answers: Int, waiter: Waiter, output: MetricClientOutput,
                       recorded: (UInt64) -> Void = { _ in }) -> QueueOutcome {
        let (connection, refused, closed) = state.withLock { state -> (Connection?, Bool, String?) in
            if let reason = state.closed { return (nil, false, reason) }
            recorded(state.requests.sent(request, waiter, answers: answers))
            guard let connection = state.connection else { return (nil, false, nil) }
            do {
                try connection.enqueue(output)
                return (connection, false, nil)
            } catch {
                return (connection, true, nil)
            }
        }
        if let closed { return .closed(closed) }
        if refused { connection?.stream.abort() } else { connection?.stream.flush() }
        return .queued
    }

    /// Closes the connection for good; calls waiting fail with ``MetricStoreClientError/connectionLost(_:)``.
    func close() {
        close(reason: "closed by the app")
    }

    /// The app let go of its client: close for good, end every task.
    func shutdown() {
        close(reason: "client released")
    }

    private func close(reason: String) {
        let connection = driver.withLock { $0 }?.close(reason: reason)
        fail(all: .connectionLost(reason))
        // A FIN after what was queued, not a reset.
        connection?.stream.startClosing(reason)
        states.finish()
    }

    fileprivate static func validate(key: String, allowStar: Bool) throws(MetricStoreClientError) {
        guard !key.isEmpty, allowStar || key != "*" else { throw .invalidKey(key) }
        // ASCII keys (nearly all) are checked bytewise; others scalar by scalar.
        var ascii = true
        for byte in key.utf8 {
            if byte >= 0x80 {
                ascii = false
                break
            }
            if byte <= 0x20 || byte == 0x7F { throw .invalidKey(key) }
        }
        if !ascii, key.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            throw .invalidKey(key)
        }
    }

    /// Sends one command (starting the connection on the first call) and waits for its answer.
    private func call(_ command: MetricCommand) async throws(MetricStoreClientError) -> MetricAnswer {
        guard !Task.isCancelled else { throw .cancelled }
        if let failure = await ensureStarted() { throw failure }
        do {
            return try await ReplyWaiter.wait(timeout: configuration.timeout, clock: clock) { continuation in
                var requestID: UInt64?
                let outcome = queue(command, waiter: .call(continuation)) { id in requestID = id }
                if case .closed(let reason) = outcome {
                    continuation.resume(throwing: MetricStoreClientError.connectionLost(reason))
                    return nil
                }
                return requestID
            } abandon: { [weak self] id, why in
                self?.abandon(id, with: why == .timedOut ? .timeout : .cancelled)
            }
        } catch let error as MetricStoreClientError {
            throw error
        } catch {
            throw .cancelled
        }
    }

    private func abandon(_ id: UInt64, with error: MetricStoreClientError) {
        let waiter = state.withLock { $0.requests.abandon(id: id) }
        if case .call(let continuation)? = waiter { continuation.resume(throwing: error) }
    }

    /// Starts the reconnect driver once; every caller waits for the first attempt.
    fileprivate func ensureStarted() async -> MetricStoreClientError? {
        let gate = startGate.withLock { gate -> Task<MetricStoreClientError?, Never> in
            if let gate { return gate }
            let task = Task { () -> MetricStoreClientError? in
                guard let driver = self.driver.withLock({ $0 }) else { return .connectionLost("client released") }
                guard let failure = await driver.start() else { return nil }
                return failure.detail as? MetricStoreClientError ?? .connectionFailed("\(failure.detail)")
            }
            gate = task
            return task
        }
        let failure = await gate.value
        if failure != nil {
            // The first connect failed: the next call tries again.
            startGate.withLock { $0 = nil }
        }
        return failure
    }

    // MARK: Connection hooks

    private func open() async -> Result<Connection, Reconnector<Connection, String>.OpenFailure> {
        do {
            let connection = try await StreamConnector.open(host: host, port: port, codec: MetricClientCodec(), handshake: nil,
                                                            timeout: configuration.connectTimeout, tls: configuration.tls)
            return .success(Connection(connection))
        } catch {
            let reason = "\(error)"
            return .failure(.init(reason: reason, detail: MetricStoreClientError.connectionFailed(reason)))
        }
    }

    /// A connection opened: the calls still waiting go out on it, in order.
    private func replay(on connection: Connection) {
        var refused = false
        state.withLock { state in
            state.connection = connection
            // Each request's unanswered commands, in order (a batch of puts answered in part
            // sends the rest).
            do {
                for (_, request, answered) in state.requests.reconnected() {
                    switch request {
                    case .command(let command): try connection.enqueue(.command(command))
                    case .puts(let samples): try connection.enqueue(.puts(samples[answered...]))
                    }
                }
            } catch {
                refused = true
            }
        }
        if refused { connection.stream.abort() } else { connection.stream.flush() }
    }

    /// What one batch of answers resolved, to be resumed after the lock.
    private struct Resolved {
        var calls: [(CheckedContinuation<MetricAnswer, any Error>, MetricAnswer)] = []
        /// Per recorder window: answers, how many were ok, the first error.
        var windows: [(window: RecordWindow, count: Int, stored: Int, failure: MetricStoreClientError?)] = []
        /// An answer arrived that nobody asked for.
        var unexpected = false

        mutating func count(_ answers: Int, stored: Int, failure: MetricStoreClientError?, for window: RecordWindow) {
            // Consecutive answers nearly always belong to the same window: look at the last first.
            let index: Int
            if let last = windows.indices.last, windows[last].window === window {
                index = last
            } else if let found = windows.firstIndex(where: { $0.window === window }) {
                index = found
            } else {
                windows.append((window, 0, 0, nil))
                index = windows.count - 1
            }
            windows[index].count += answers
            windows[index].stored += stored
            if let failure, windows[index].failure == nil { windows[index].failure = failure }
        }

        func resume() {
            for (continuation, answer) in calls { continuation.resume(returning: answer) }
            for entry in windows { entry.window.answered(entry.count, stored: entry.stored, failure: entry.failure) }
        }
    }

    /// Matches answers to calls until the connection ends; says why it ended.
    private func serve(_ connection: Connection) async -> String {
        var reason = "connection lost"
        while let batch = await connection.receiveBatch() {
            var failure: MetricAnswerParser.Failure?
            let resolved = state.withLock { state -> Resolved in
                var resolved = Resolved()
                for item in batch {
                    switch item {
                    case .message(let answers): Self.match(answers, with: &state.requests, into: &resolved)
                    case .failed(let parseFailure): failure = parseFailure
                    }
                }
                return resolved
            }
            resolved.resume()
            // After close the table is empty: answers to what was on the wire still come, and
            // are dropped quietly while the close finishes (a reset would lose nothing, but is
            // not a clean end).
            if resolved.unexpected && failure == nil && state.withLock({ $0.closed != nil }) { continue }
            if resolved.unexpected || failure != nil {
                reason = failure.map { "malformed answer: \($0.reason)" } ?? "an answer nobody asked for"
                connection.stream.abort()
                break
            }
        }
        state.withLock { state in
            if state.connection == connection { state.connection = nil }
        }
        return reason
    }

    /// Each answer belongs to the oldest request on the wire; a run of put answers is counted
    /// against a batch in one step.
    private static func match(_ runs: [MetricAnswerParser.Run], with requests: inout PipelinedRequests<Request, Waiter>, into resolved: inout Resolved) {
        for run in runs {
            switch run {
            case .oks(var count):
                while count > 0 {
                    guard let (_, waiter, taken) = requests.answers(upTo: count) else {
                        resolved.unexpected = true
                        return
                    }
                    count -= taken
                    switch waiter {
                    case .call(let continuation)?: resolved.calls.append((continuation, .ok([])))
                    case .window(let window)?: resolved.count(taken, stored: taken, failure: nil, for: window)
                    case nil: break  // abandoned (timed out, cancelled): its answer is skipped
                    }
                }
            case .answer(let answer):
                guard let (_, waiter, _) = requests.answers(upTo: 1) else {
                    resolved.unexpected = true
                    return
                }
                switch waiter {
                case .call(let continuation)?: resolved.calls.append((continuation, answer))
                case .window(let window)?:
                    let failure: MetricStoreClientError? = if case .error(let text) = answer { .serverError(text) } else { nil }
                    resolved.count(1, stored: failure == nil ? 1 : 0, failure: failure, for: window)
                case nil: break
                }
            }
        }
    }

    private func publish(_ machineState: ReconnectMachine<String>.State) {
        let mapped: MetricConnectionState = switch machineState {
        case .idle: .idle
        case .connecting(let attempt): .connecting(attempt: attempt)
        case .connected: .connected
        case .backingOff(let attempt, let delay, let reason): .reconnecting(attempt: attempt, delay: delay, reason: reason)
        case .closed(let reason): .closed(reason: reason)
        }
        // Recorded and enqueued under one lock: a new listener's first value and the values
        // after it are in order.
        currentState.withLock { current in
            current = mapped
            _ = states.enqueue(mapped)
        }
        states.deliver()
    }

    private func fail(all error: MetricStoreClientError) {
        let waiters = state.withLock { state -> [(waiter: Waiter, owed: Int)] in
            if case .connectionLost(let reason) = error { state.closed = reason }
            return state.requests.removeAll()
        }
        var windows: [ObjectIdentifier: (window: RecordWindow, count: Int)] = [:]
        for (waiter, owed) in waiters {
            switch waiter {
            case .call(let continuation):
                continuation.resume(throwing: error)
            case .window(let window):
                windows[ObjectIdentifier(window), default: (window, 0)].count += owed
            }
        }
        for entry in windows.values { entry.window.fail(error, count: entry.count) }
    }
}
