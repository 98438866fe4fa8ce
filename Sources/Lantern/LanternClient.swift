import ConnectionCore
import Locking

/// A lantern: connects to a control server over TCP, obeys its TLV commands, and reconnects
/// by itself when the connection drops or the server is down.
///
/// ```swift
/// let lantern = LanternClient(host: "127.0.0.1", port: 9999)
/// for await state in lantern.states { print(state) }   // off #ffffff, on #ff0000 ...
/// await lantern.close()
/// ```
///
/// It starts connecting at once. The state is the pure reduction
/// ``LanternState/applying(_:registry:)`` of every command received.
public final class LanternClient: Sendable {
    /// Reconnecting and decoding.
    public struct Configuration: Sendable {
        /// The wait before each new attempt while the server is down or after a drop. Default 1 s.
        public var reconnectDelay: Duration = .seconds(1)
        /// How long opening a connection may take. Default 5 s.
        public var connectTimeout: Duration = .seconds(5)
        /// The commands understood. Default ``LanternCommandRegistry/standard``.
        public var registry: LanternCommandRegistry = .standard
        /// TLS to the control server (needs the package trait `TLS`). Default nil: plaintext.
        public var tls: TLSConfiguration?

        /// The defaults.
        public init() {}
    }

    /// The control server's host.
    public let host: String
    /// The control server's port.
    public let port: Int
    /// The settings it runs with.
    public let configuration: Configuration

    private struct Shared: Sendable {
        var state = LanternState()
        var connectionState = LanternConnectionState.connecting(attempt: 0)
        var statistics = LanternStatistics()
        var closed = false
    }

    private let shared = LockedValue(Shared())
    private let stateBroadcaster = Broadcaster<LanternState>(bufferingNewest: 1024)
    private let commandBroadcaster = Broadcaster<LanternCommand>(bufferingNewest: 65_536)
    private let connectionBroadcaster = Broadcaster<LanternConnectionState>(bufferingNewest: 256)
    private let driver = LockedValue<Reconnector<StreamConnection, String>?>(nil)

    /// A lantern connecting to `host`:`port` at once.
    /// - Parameters:
    ///   - host: The control server; default 127.0.0.1.
    ///   - port: Its TLV port; default 9999.
    ///   - configuration: Reconnect delay, commands.
    public init(host: String = "127.0.0.1", port: Int = 9999, configuration: Configuration = .init()) {
        self.host = host
        self.port = port
        self.configuration = configuration
        let hooks = Reconnector<StreamConnection, String>.Hooks(
            open: { [weak self] _ in
                guard let self else { return .failure(.init(reason: "lantern released", detail: CancellationError())) }
                return await self.open()
            },
            replaySession: { _, _ in },
            serve: { [weak self] connection in await self?.serve(connection) ?? "lantern released" },
            drop: { connection in connection.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { _ in })
        // The first connection is retried like any other: a lantern waits for its server.
        let reconnector = Reconnector(machine: ReconnectMachine<String>(backoff: .fixed(configuration.reconnectDelay), retryingFirstConnect: true),
                                      hooks: hooks, liveness: nil, clock: ContinuousClock())
        driver.withLock { $0 = reconnector }
        reconnector.launch()
    }

    deinit {
        driver.withLock { $0 }?.shutdown(reason: "lantern released")
    }

    /// What the lantern shows now.
    public var state: LanternState { shared.withLock { $0.state } }
    /// Where the connection stands now.
    public var connectionState: LanternConnectionState { shared.withLock { $0.connectionState } }
    /// What was received and not acted on.
    public var statistics: LanternStatistics { shared.withLock { $0.statistics } }

    /// The lantern's states, starting with the current one; finishes after ``close()``.
    public var states: AsyncStream<LanternState> {
        let stream = shared.withLock { stateBroadcaster.makeStream(initial: $0.state) }
        stateBroadcaster.deliver()
        return stream
    }

    /// Every command decoded from now on (built-in and registered); finishes after ``close()``.
    public var commands: AsyncStream<LanternCommand> {
        commandBroadcaster.makeStream()
    }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    public var connectionStates: AsyncStream<LanternConnectionState> {
        let stream = shared.withLock { connectionBroadcaster.makeStream(initial: $0.connectionState) }
        connectionBroadcaster.deliver()
        return stream
    }

    /// Closes cleanly: pending output is written, then TCP is closed with a FIN; nothing
    /// reconnects. The streams finish.
    public func close() async {
        let first = shared.withLock { shared -> Bool in
            defer { shared.closed = true }
            return !shared.closed
        }
        guard first else { return }
        let connection = driver.withLock { $0 }?.close(reason: "closed")
        if let connection { await connection.close("closed") }
        setConnectionState(.closed)
        stateBroadcaster.finish()
        commandBroadcaster.finish()
        connectionBroadcaster.finish()
    }

    // MARK: Connection

    private func open() async -> Result<StreamConnection, Reconnector<StreamConnection, String>.OpenFailure> {
        do {
            let connection = try await StreamConnector.open(host: host, port: port, codec: LanternCodec(registry: configuration.registry),
                                                            handshake: nil, timeout: configuration.connectTimeout, tls: configuration.tls)
            return .success(connection)
        } catch {
            return .failure(.init(reason: "\(error)", detail: error))
        }
    }

    /// Applies commands as they arrive until the connection ends.
    private func serve(_ connection: StreamConnection) async -> String {
        let registry = configuration.registry
        while let batch = await connection.receiveBatch() {
            shared.withLock { shared in
                for case let outputs as [LanternDecoder.Output] in batch {
                    for output in outputs {
                        switch output {
                        case .command(let command):
                            shared.statistics.commands += 1
                            _ = commandBroadcaster.enqueue(command)
                            let next = shared.state.applying(command, registry: registry)
                            if next != shared.state {
                                shared.state = next
                                _ = stateBroadcaster.enqueue(next)
                            }
                        case .unknown:
                            shared.statistics.unknownSkipped += 1
                        case .malformed:
                            shared.statistics.malformedIgnored += 1
                        }
                    }
                }
            }
            commandBroadcaster.deliver()
            stateBroadcaster.deliver()
        }
        return "connection closed by the server"
    }

    private func publish(_ machineState: ReconnectMachine<String>.State) {
        switch machineState {
        case .idle: break
        case .connecting(let attempt): setConnectionState(.connecting(attempt: attempt))
        case .connected: setConnectionState(.connected)
        case .backingOff(_, let delay, let reason): setConnectionState(.waiting(delay: delay, reason: reason))
        case .closed: break
        }
    }

    private func setConnectionState(_ new: LanternConnectionState) {
        shared.withLock { shared in
            guard shared.connectionState != new, shared.connectionState != .closed else { return }
            shared.connectionState = new
            _ = connectionBroadcaster.enqueue(new)
        }
        connectionBroadcaster.deliver()
    }
}
