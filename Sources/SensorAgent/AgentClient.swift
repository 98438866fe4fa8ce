import ConnectionCore
import SensorWire

/// The device connector: brings a program's devices onto the hub, keeps them registered across
/// reconnects, pushes their events and answers commands from apps.
///
/// ```swift
/// let store = try FileDeviceStore(path: "devices.json")
/// let agent = AgentClient(host: "localhost", port: 5192, agentID: "home-1", devices: store)
/// agent.start()
/// for await command in agent.commands {
///     try await agent.respond(to: command, status: 200, data: ["done": true])
/// }
/// ```
///
/// Every change goes to the store first, then to the hub, acknowledged within
/// ``Configuration/requestTimeout``; while offline, changes wait and go out after the next
/// connect (events wait within their timeout, then are dropped). ``stop()`` stops the agent;
/// so does letting go of it.
public final class AgentClient: Sendable {
    /// Credentials and timing.
    public struct Configuration: Sendable {
        /// The hub's agent token, if it asks for one: sent in the upgrade request
        /// (`Authorization: Bearer`) and in the `connect` message.
        public var token: String?
        /// How long a call waits for the hub's acknowledgement. Default 10 s.
        public var requestTimeout: Duration = .seconds(10)
        /// Delays between reconnect attempts.
        public var reconnect = Backoff(initialDelay: .milliseconds(250), maxDelay: .seconds(5), multiplier: 2, jitter: 0.2, maxAttempts: nil)
        /// How long opening a connection may take. Default 10 s.
        public var connectTimeout: Duration = .seconds(10)
        /// TLS to the hub (`wss://`; needs the package trait `TLS`). Default nil: plaintext.
        public var tls: TLSConfiguration?

        /// A configuration.
        /// - Parameter token: See ``token``.
        public init(token: String? = nil) {
            self.token = token
        }
    }

    /// The hub's host.
    public var host: String { engine.host }
    /// The hub's port.
    public var port: Int { engine.port }
    /// This agent's id.
    public var agentID: String { engine.agentID }
    /// The devices.
    public var store: any DeviceManager { engine.store }
    /// The settings it runs with.
    public var configuration: Configuration { engine.configuration }

    /// Everything the agent runs; it never refers back to this object.
    let engine: AgentClientEngine

    /// An agent; nothing happens until ``start()``.
    /// - Parameters:
    ///   - host: The hub's host.
    ///   - port: The hub's port.
    ///   - agentID: This agent's id (its devices are registered under it).
    ///   - devices: The device store.
    ///   - configuration: Token, timeouts.
    public convenience init(host: String, port: Int, agentID: String, devices: any DeviceManager, configuration: Configuration = .init()) {
        self.init(host: host, port: port, agentID: agentID, devices: devices, configuration: configuration, clock: ContinuousClock())
    }

    /// An agent whose request timeouts and reconnect delays run on `clock` (tests).
    package init(host: String, port: Int, agentID: String, devices: any DeviceManager, configuration: Configuration, clock: any Clock<Duration>) {
        engine = AgentClientEngine(host: host, port: port, agentID: agentID, devices: devices, configuration: configuration, clock: clock)
    }

    deinit {
        engine.shutdown()
    }

    /// Starts connecting and returns at once; the agent keeps its connection up by itself
    /// (a hub that is down is retried with the backoff). Calling it again does nothing.
    public func start() {
        engine.start()
    }

    /// Stops: the connection closes; waiting calls fail with ``AgentClientError/stopped``; the
    /// streams finish.
    public func stop() async {
        await engine.stop()
    }

    /// The connection's states, starting with the current one.
    public var connectionStates: AsyncStream<AgentConnectionState> { engine.connectionStates }

    /// The connection's state now.
    public var connectionState: AgentConnectionState { engine.connectionState }

    /// Commands from apps, from now on.
    public var commands: AsyncStream<AgentCommand> { engine.commands }

    /// Calls `handler` for every command from now on (a thin adapter over ``commands``), until
    /// ``stop()``. A handler that captures the agent keeps it alive: stop it explicitly, or
    /// capture it `weak`, if letting go of the agent is what stops it.
    /// - Parameter handler: Called for each command, one at a time.
    public func onCommand(_ handler: @escaping @Sendable (AgentCommand) async -> Void) {
        engine.onCommand(handler)
    }

    /// Adds a device to the store and registers it with the hub.
    /// - Parameter device: The device.
    /// - Returns: Whether the hub acknowledged it (false: it is registered after the next connect).
    /// - Throws: ``AgentClientError``.
    @discardableResult
    public func add(_ device: Device) async throws(AgentClientError) -> Bool {
        try await engine.add(device)
    }

    /// Updates a device in the store and at the hub.
    /// - Parameter device: The device (an id the store knows).
    /// - Returns: Whether the hub acknowledged it.
    /// - Throws: ``AgentClientError``.
    @discardableResult
    public func update(_ device: Device) async throws(AgentClientError) -> Bool {
        try await engine.update(device)
    }

    /// Tells the hub a device is disconnected (it stays in the store, and is connected again
    /// when the agent next connects).
    /// - Parameter id: The device.
    /// - Returns: Whether the hub acknowledged it.
    /// - Throws: ``AgentClientError``.
    @discardableResult
    public func disconnect(device id: String) async throws(AgentClientError) -> Bool {
        try await engine.disconnect(device: id)
    }

    /// Removes a device from the store and from the hub.
    /// - Parameter id: The device.
    /// - Returns: Whether the hub acknowledged it.
    /// - Throws: ``AgentClientError``.
    @discardableResult
    public func delete(device id: String) async throws(AgentClientError) -> Bool {
        try await engine.delete(device: id)
    }

    /// Pushes an event of a device (apps subscribed to it get it as a reading, with `service`).
    /// - Parameters:
    ///   - device: The device.
    ///   - service: What it is about (`reading` ...).
    ///   - data: The event.
    /// - Returns: The hub's answer.
    /// - Throws: ``AgentClientError/timeout`` when no answer came in time (the event is dropped).
    @discardableResult
    public func event(device: String, service: String, data: JSONValue) async throws(AgentClientError) -> PlatformMessage {
        try await engine.event(device: device, service: service, data: data)
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
    public func publish(device: String, service: String, data: JSONValue) -> Bool {
        engine.publish(device: device, service: service, data: data)
    }

    /// Answers a command (the app gets `status` and `data` unchanged).
    /// - Parameters:
    ///   - command: The command.
    ///   - status: The status (200: done).
    ///   - data: The answer.
    /// - Returns: Whether the answer was handed to the connection; false while offline or when
    ///   the connection was closing (the answer is dropped: the hub has answered the app with a
    ///   timeout).
    /// - Throws: ``AgentClientError/stopped`` or ``AgentClientError/rejected(_:)``.
    @discardableResult
    public func respond(to command: AgentCommand, status: Int, data: JSONValue) async throws(AgentClientError) -> Bool {
        try await engine.respond(to: command, status: status, data: data)
    }
}
