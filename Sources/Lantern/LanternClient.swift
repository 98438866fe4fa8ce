import ConnectionCore

/// A lantern: connects to a control server over TCP, obeys its TLV commands, and reconnects
/// by itself when the connection drops or the server is down.
///
/// ```swift
/// let lantern = LanternClient(host: "127.0.0.1", port: 9999)
/// for await state in lantern.states { print(state) }   // off #ffffff, on #ff0000 ...
/// await lantern.close()
/// ```
///
/// It starts connecting at once. ``close()`` stops it; so does letting go of it. The state is the pure reduction
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
    public var host: String { engine.host }
    /// The control server's port.
    public var port: Int { engine.port }
    /// The settings it runs with.
    public var configuration: Configuration { engine.configuration }

    /// Everything the lantern runs; it never refers back to this object.
    let engine: LanternClientEngine

    /// A lantern connecting to `host`:`port` at once.
    /// - Parameters:
    ///   - host: The control server; default 127.0.0.1.
    ///   - port: Its TLV port; default 9999.
    ///   - configuration: Reconnect delay, commands.
    public convenience init(host: String = "127.0.0.1", port: Int = 9999, configuration: Configuration = .init()) {
        self.init(host: host, port: port, configuration: configuration, clock: ContinuousClock())
    }

    /// A lantern whose reconnect delays run on `clock` (tests).
    package init(host: String, port: Int, configuration: Configuration, clock: any Clock<Duration>) {
        engine = LanternClientEngine(host: host, port: port, configuration: configuration, clock: clock)
    }

    deinit {
        engine.shutdown()
    }

    /// What the lantern shows now.
    public var state: LanternState { engine.state }
    /// Where the connection stands now.
    public var connectionState: LanternConnectionState { engine.connectionState }
    /// What was received and not acted on.
    public var statistics: LanternStatistics { engine.statistics }

    /// The lantern's states, starting with the current one; finishes after ``close()``.
    public var states: AsyncStream<LanternState> { engine.states }

    /// Every command decoded from now on (built-in and registered); finishes after ``close()``.
    public var commands: AsyncStream<LanternCommand> { engine.commands }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    public var connectionStates: AsyncStream<LanternConnectionState> { engine.connectionStates }

    /// Closes cleanly: pending output is written, then TCP is closed with a FIN; nothing
    /// reconnects. The streams finish.
    public func close() async {
        await engine.close()
    }
}
