import ConnectionCore
import Foundation
import Locking
import SensorWire
import WebSocketCore
import WebSocketIO

/// The machinery behind an ``AgentClient``: its session, the reconnect driver and the
/// connection hooks. Nothing it runs retains the public object, so an app that lets go of its
/// agent shuts it down (the agent's `deinit` calls ``shutdown()``).
final class AgentClientEngine: Sendable {
    typealias Configuration = AgentClient.Configuration

    let host: String
    let port: Int
    let agentID: String
    let store: any DeviceManager
    let configuration: Configuration
    private let clock: any Clock<Duration>

    private typealias Waiter = CheckedContinuation<PlatformMessage, any Error>

    private struct Shared: Sendable {
        var session: AgentSession<Waiter>
        var connection: WebSocketConnection?
        var state = AgentConnectionState.idle
        var finished: AgentClientError?
        var started = false
    }

    private let shared: LockedValue<Shared>
    private let stateBroadcaster = Broadcaster<AgentConnectionState>(bufferingNewest: 256)
    private let commandBroadcaster = Broadcaster<AgentCommand>(bufferingNewest: 4096)
    private let driver = LockedValue<Reconnector<WebSocketConnection, String>?>(nil)
    private let handlers = LockedValue<[Task<Void, Never>]>([])

    init(host: String, port: Int, agentID: String, devices: any DeviceManager, configuration: Configuration, clock: any Clock<Duration>) {
        self.clock = clock
        self.host = host
        self.port = port
        self.agentID = agentID
        self.store = devices
        self.configuration = configuration
        shared = LockedValue(Shared(session: AgentSession(agentID: agentID, token: configuration.token)))
        let hooks = Reconnector<WebSocketConnection, String>.Hooks(
            open: { [weak self] _ in
                guard let self else { return .failure(.init(reason: "agent released", detail: AgentClientError.stopped)) }
                return await self.open()
            },
            replaySession: { [weak self] connection, _ in self?.connected(connection) },
            serve: { [weak self] connection in await self?.serve(connection) ?? "agent released" },
            drop: { connection in connection.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { _ in })
        driver.withLock {
            $0 = Reconnector(machine: ReconnectMachine<String>(backoff: configuration.reconnect, retryingFirstConnect: true), hooks: hooks, liveness: nil, clock: clock)
        }
    }

    /// The app let go of its agent: the connection closes (close frame, no wait), nothing
    /// reconnects, waiting calls fail with ``AgentClientError/stopped``, the streams finish.
    func shutdown() {
        let connection = driver.withLock { $0 }?.close(reason: "agent released")
        finish(.stopped, state: .stopped)
        if let connection { Task { _ = await connection.close(code: .goingAway, reason: "agent released") } }
    }

    /// Starts connecting and returns at once; the agent keeps its connection up by itself
    /// (a hub that is down is retried with the backoff). Calling it again does nothing.
    func start() {
        let first = shared.withLock { shared -> Bool in
            defer { shared.started = true }
            return !shared.started && shared.finished == nil
        }
        guard first else { return }
        driver.withLock { $0 }?.launch()
    }

    /// Stops: the connection closes; waiting calls fail with ``AgentClientError/stopped``; the
    /// streams finish.
    func stop() async {
        let connection = driver.withLock { $0 }?.close(reason: "stopped")
        finish(.stopped, state: .stopped)
        if let connection { _ = await connection.close(code: .normalClosure, reason: "agent stopped") }
    }

    /// The connection's states, starting with the current one.
    var connectionStates: AsyncStream<AgentConnectionState> {
        let stream = shared.withLock { stateBroadcaster.makeStream(initial: $0.state) }
        stateBroadcaster.deliver()
        return stream
    }

    /// The connection's state now.
    var connectionState: AgentConnectionState { shared.withLock { $0.state } }

    /// Commands from apps, from now on.
    var commands: AsyncStream<AgentCommand> { commandBroadcaster.makeStream() }

    /// Calls `handler` for every command from now on (a thin adapter over ``commands``).
    /// - Parameter handler: Called for each command, one at a time.
    func onCommand(_ handler: @escaping @Sendable (AgentCommand) async -> Void) {
        let stream = commands
        let task = Task {
            for await command in stream { await handler(command) }
        }
        handlers.withLock { $0.append(task) }
    }

    // MARK: Calls

    /// Adds a device to the store and registers it with the hub.
    /// - Parameter device: The device.
    /// - Returns: Whether the hub acknowledged it (false: it is registered after the next connect).
    /// - Throws: ``AgentClientError``.
    @discardableResult
    func add(_ device: Device) async throws(AgentClientError) -> Bool {
        // A cancelled caller changes nothing: neither the store nor the hub.
        guard !Task.isCancelled else { throw .cancelled }
        do { try store.add(device) } catch { throw .store(error) }
        return try await change { .register(requestID: $0, device: device, hash: device.hash) }
    }

    /// Updates a device in the store and at the hub.
    /// - Parameter device: The device (an id the store knows).
    /// - Returns: Whether the hub acknowledged it.
    /// - Throws: ``AgentClientError``.
    @discardableResult
    func update(_ device: Device) async throws(AgentClientError) -> Bool {
        // A cancelled caller changes nothing: neither the store nor the hub.
        guard !Task.isCancelled else { throw .cancelled }
        do { try store.update(device) } catch { throw .store(error) }
        return try await change { .update(requestID: $0, device: device, hash: device.hash) }
    }

    /// Tells the hub a device is disconnected (it stays in the store, and is connected again
    /// when the agent next connects).
    /// - Parameter id: The device.
    /// - Returns: Whether the hub acknowledged it.
    /// - Throws: ``AgentClientError``.
    @discardableResult
    func disconnect(device id: String) async throws(AgentClientError) -> Bool {
        // A cancelled caller changes nothing: neither the store nor the hub.
        guard !Task.isCancelled else { throw .cancelled }
        guard store.get(id) != nil else { throw .unknownDevice(id) }
        return try await change { .disconnect(requestID: $0, deviceID: id) }
    }

    /// Removes a device from the store and from the hub.
    /// - Parameter id: The device.
    /// - Returns: Whether the hub acknowledged it.
    /// - Throws: ``AgentClientError``.
    @discardableResult
    func delete(device id: String) async throws(AgentClientError) -> Bool {
        // A cancelled caller changes nothing: neither the store nor the hub.
        guard !Task.isCancelled else { throw .cancelled }
        let removed: Device?
        do { removed = try store.remove(id) } catch { throw .store(error) }
        guard removed != nil else { throw .unknownDevice(id) }
        return try await change { .delete(requestID: $0, deviceID: id) }
    }

    /// Pushes an event of a device (apps subscribed to it get it as a reading, with `service`).
    /// - Parameters:
    ///   - device: The device.
    ///   - service: What it is about (`reading` ...).
    ///   - data: The event.
    /// - Returns: The hub's answer.
    /// - Throws: ``AgentClientError/timeout`` when no answer came in time (the event is dropped).
    @discardableResult
    func event(device: String, service: String, data: JSONValue) async throws(AgentClientError) -> PlatformMessage {
        // A cancelled caller changes nothing: neither the store nor the hub.
        guard !Task.isCancelled else { throw .cancelled }
        guard store.get(device) != nil else { throw .unknownDevice(device) }
        return try await request { .event(requestID: $0, deviceID: device, service: service, data: data) }
    }

    /// Pushes an event without waiting for its acknowledgement (telemetry at a high rate): sent
    /// at once when connected and synchronised, in call order; dropped otherwise, and dropped
    /// if the connection ends before the hub acknowledged it.
    /// - Parameters:
    ///   - device: The device.
    ///   - service: What it is about.
    ///   - data: The event.
    /// - Returns: Whether it was sent.
    @discardableResult
    func publish(device: String, service: String, data: JSONValue) -> Bool {
        let (send, connection) = shared.withLock { shared -> ([AgentToHub], WebSocketConnection?) in
            guard shared.finished == nil, shared.session.isOnline, let connection = shared.connection else { return ([], nil) }
            let (_, send) = shared.session.submit({ .event(requestID: $0, deviceID: device, service: service, data: data) }, waiter: nil)
            return (send, connection)
        }
        guard !send.isEmpty else { return false }
        write(send, on: connection)
        return true
    }

    /// Answers a command (the app gets `status` and `data` unchanged).
    /// - Parameters:
    ///   - command: The command.
    ///   - status: The status (200: done).
    ///   - data: The answer.
    /// - Throws: ``AgentClientError/stopped`` or ``AgentClientError/rejected(_:)``; an answer
    ///   while offline is dropped (the hub has answered the app with a timeout).
    func respond(to command: AgentCommand, status: Int, data: JSONValue) async throws(AgentClientError) -> Bool {
        let (connection, finished) = shared.withLock { ($0.connection, $0.finished) }
        if let finished { throw finished }
        guard let connection else { return false }
        do {
            try await connection.send(text: SensorProtocol.encode(AgentToHub.commandResponse(commandID: command.id, status: status, data: data).envelope))
            return true
        } catch {
            // The connection is closing: the answer is lost as if offline (the hub answers the
            // app with a timeout); the caller learns it from the result.
            return false
        }
    }

    /// A change: true when acknowledged with 2xx, false when not in time (it stays queued).
    private func change(_ build: @escaping @Sendable (String) -> AgentToHub) async throws(AgentClientError) -> Bool {
        do {
            return try await request(build).isSuccess
        } catch .timeout {
            return false
        }
    }

    /// Queues a request and waits for its acknowledgement within the timeout.
    private func request(_ build: @escaping @Sendable (String) -> AgentToHub) async throws(AgentClientError) -> PlatformMessage {
        guard !Task.isCancelled else { throw .cancelled }
        do {
            return try await ReplyWaiter.wait(timeout: configuration.requestTimeout, clock: clock) { (continuation: Waiter) -> String? in
                let (id, send, connection, finished) = shared.withLock { shared -> (String?, [AgentToHub], WebSocketConnection?, AgentClientError?) in
                    if let finished = shared.finished { return (nil, [], nil, finished) }
                    let (id, send) = shared.session.submit(build, waiter: continuation)
                    return (id, send, shared.connection, nil)
                }
                if let finished {
                    continuation.resume(throwing: finished)
                    return nil
                }
                write(send, on: connection)
                return id
            } abandon: { [weak self] id, why in
                self?.abandon(id, with: why == .timedOut ? .timeout : .cancelled)
            }
        } catch let error as AgentClientError {
            throw error
        } catch {
            throw .cancelled
        }
    }

    private func abandon(_ id: String, with error: AgentClientError) {
        let waiter = shared.withLock { $0.session.abandon(id) }
        waiter?.resume(throwing: error)
    }

    private func write(_ messages: [AgentToHub], on connection: WebSocketConnection?) {
        guard let connection, !messages.isEmpty else { return }
        do {
            try connection.sendNow(texts: messages.map { SensorProtocol.encode($0.envelope) })
        } catch {
            // The connection is going; its end queues these again.
            connection.abort()
        }
    }

    // MARK: Connection

    private func open() async -> Result<WebSocketConnection, Reconnector<WebSocketConnection, String>.OpenFailure> {
        var webSocket = WebSocketConfiguration()
        webSocket.connectTimeout = configuration.connectTimeout
        webSocket.tls = configuration.tls
        // The token in the upgrade request too: a hub that requires tokens refuses (401) an
        // upgrade without one, before the `connect` message could show it.
        if let token = configuration.token { webSocket.extraHeaders.append(("Authorization", "Bearer \(token)")) }
        do {
            return .success(try await WebSocketConnection.connect(host: host, port: port, configuration: webSocket))
        } catch .handshakeFailed(.unexpectedStatus(401, _)) {
            // The hub refused the token before the upgrade: final, like a 1008 for a wrong token.
            let reason = "invalid agent token"
            _ = driver.withLock { $0 }?.close(reason: "rejected")
            finish(.rejected(reason), state: .rejected(reason: reason))
            return .failure(.init(reason: "rejected: \(reason)", detail: AgentClientError.rejected(reason)))
        } catch {
            return .failure(.init(reason: "\(error)", detail: error))
        }
    }

    private func connected(_ connection: WebSocketConnection) {
        let devices = store.devices
        let send = shared.withLock { shared -> [AgentToHub] in
            shared.connection = connection
            return shared.session.connected(devices: devices)
        }
        write(send, on: connection)
    }

    /// Handles the hub's messages until the connection ends; says why it ended.
    private func serve(_ connection: WebSocketConnection) async -> String {
        while let batch = await connection.receiveBatch() {
            for message in batch {
                guard case .text(let text) = message, let envelope = SensorProtocol.decode(text), let hubMessage = HubToAgent(envelope) else { continue }
                handle(hubMessage, on: connection)
            }
        }
        let closure = await connection.closed()
        shared.withLock { shared in
            if shared.connection === connection { shared.connection = nil }
            shared.session.lost()
        }
        if closure.code == .policyViolation {
            // A wrong token: final.
            let reason = closure.reason.isEmpty ? "policy violation" : closure.reason
            _ = driver.withLock { $0 }?.close(reason: "rejected")
                finish(.rejected(reason), state: .rejected(reason: reason))
            return "rejected: \(reason)"
        }
        return closure.reason.isEmpty ? "connection lost (\(closure.code.rawValue))" : closure.reason
    }

    private func handle(_ message: HubToAgent, on connection: WebSocketConnection) {
        // The app's store is read before the lock: its code never runs under the agent's lock.
        var described: [String: Device] = [:]
        if case .sync(let ids) = message {
            for id in ids { described[id] = store.get(id) }
        }
        let (send, resolution, becameOnline) = shared.withLock { shared -> ([AgentToHub], AgentSession<Waiter>.Resolution, Bool) in
            let wasOnline = shared.session.phase == .online
            let (send, resolution) = shared.session.received(message) { described[$0] }
            return (send, resolution, !wasOnline && shared.session.phase == .online)
        }
        write(send, on: connection)
        if becameOnline { setState(.connected) }
        switch resolution {
        case .none: break
        case .acked(let waiter, let status, let error): waiter?.resume(returning: PlatformMessage(status: status, error: error))
        case .command(let command): commandBroadcaster.yield(command)
        }
    }

    private func publish(_ machineState: ReconnectMachine<String>.State) {
        switch machineState {
        case .idle, .closed, .connected: break  // connected once synchronised
        case .connecting(let attempt): setState(.connecting(attempt: attempt))
        case .backingOff(_, let delay, let reason): setState(.waiting(delay: delay, reason: reason))
        }
    }

    private func setState(_ new: AgentConnectionState) {
        shared.withLock { shared in
            guard shared.finished == nil, shared.state != new else { return }
            shared.state = new
            _ = stateBroadcaster.enqueue(new)
        }
        stateBroadcaster.deliver()
    }

    private func finish(_ error: AgentClientError, state: AgentConnectionState) {
        let waiters = shared.withLock { shared -> [Waiter] in
            guard shared.finished == nil else { return [] }
            shared.finished = error
            shared.state = state
            _ = stateBroadcaster.enqueue(state)
            return shared.session.removeAllWaiters()
        }
        for waiter in waiters { waiter.resume(throwing: error) }
        stateBroadcaster.deliver()
        stateBroadcaster.finish()
        commandBroadcaster.finish()
        for task in handlers.withLock({ $0 }) { task.cancel() }
    }
}
