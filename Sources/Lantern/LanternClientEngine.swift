import ConnectionCore
import Locking

/// The machinery behind a ``LanternClient``: its state, the reconnect driver and the
/// connection hooks. Nothing it runs retains the public object, so an app that lets go of its
/// lantern shuts it down (the lantern's `deinit` calls ``shutdown()``).
final class LanternClientEngine: Sendable {
    typealias Configuration = LanternClient.Configuration

    let host: String
    let port: Int
    let configuration: Configuration

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
    /// The lantern's connection, typed by its codec.
    private typealias Connection = CodecConnection<LanternCodec>

    private let driver = LockedValue<Reconnector<Connection, String>?>(nil)

    init(host: String, port: Int, configuration: Configuration, clock: any Clock<Duration>) {
        self.host = host
        self.port = port
        self.configuration = configuration
        let hooks = Reconnector<Connection, String>.Hooks(
            open: { [weak self] _ in
                guard let self else { return .failure(.init(reason: "lantern released", detail: CancellationError())) }
                return await self.open()
            },
            replaySession: { _, _ in },
            serve: { [weak self] connection in await self?.serve(connection) ?? "lantern released" },
            drop: { connection in connection.stream.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { _ in })
        // The first connection is retried like any other: a lantern waits for its server.
        let reconnector = Reconnector(machine: ReconnectMachine<String>(backoff: .fixed(configuration.reconnectDelay), retryingFirstConnect: true),
                                      hooks: hooks, liveness: nil, clock: clock)
        driver.withLock { $0 = reconnector }
        reconnector.launch()
    }

    /// The app let go of its lantern: the connection ends (FIN), nothing reconnects, the
    /// streams finish.
    func shutdown() {
        guard markClosed() else { return }
        let connection = driver.withLock { $0 }?.close(reason: "lantern released")
        connection?.stream.startClosing("lantern released")
        finishStreams()
    }

    /// Marks the lantern closed; false if it was already.
    private func markClosed() -> Bool {
        shared.withLock { shared -> Bool in
            defer { shared.closed = true }
            return !shared.closed
        }
    }

    private func finishStreams() {
        setConnectionState(.closed)
        stateBroadcaster.finish()
        commandBroadcaster.finish()
        connectionBroadcaster.finish()
    }

    /// What the lantern shows now.
    var state: LanternState { shared.withLock { $0.state } }
    /// Where the connection stands now.
    var connectionState: LanternConnectionState { shared.withLock { $0.connectionState } }
    /// What was received and not acted on.
    var statistics: LanternStatistics { shared.withLock { $0.statistics } }

    /// The lantern's states, starting with the current one; finishes after ``close()``.
    var states: AsyncStream<LanternState> {
        let stream = shared.withLock { stateBroadcaster.makeStream(initial: $0.state) }
        stateBroadcaster.deliver()
        return stream
    }

    /// Every command decoded from now on (built-in and registered); finishes after ``close()``.
    var commands: AsyncStream<LanternCommand> {
        commandBroadcaster.makeStream()
    }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    var connectionStates: AsyncStream<LanternConnectionState> {
        let stream = shared.withLock { connectionBroadcaster.makeStream(initial: $0.connectionState) }
        connectionBroadcaster.deliver()
        return stream
    }

    /// Closes cleanly: pending output is written, then TCP is closed with a FIN; nothing
    /// reconnects. The streams finish.
    func close() async {
        guard markClosed() else { return }
        let connection = driver.withLock { $0 }?.close(reason: "closed")
        if let connection { await connection.stream.close("closed") }
        finishStreams()
    }

    // MARK: Connection

    private func open() async -> Result<Connection, Reconnector<Connection, String>.OpenFailure> {
        do {
            let stream = try await StreamConnector.open(host: host, port: port, codec: LanternCodec(registry: configuration.registry),
                                                        handshake: nil, timeout: configuration.connectTimeout, tls: configuration.tls)
            return .success(Connection(stream))
        } catch {
            return .failure(.init(reason: "\(error)", detail: error))
        }
    }

    /// Applies commands as they arrive until the connection ends.
    private func serve(_ connection: Connection) async -> String {
        let registry = configuration.registry
        while let batch = await connection.receiveBatch() {
            shared.withLock { shared in
                for case .message(let outputs) in batch {
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
