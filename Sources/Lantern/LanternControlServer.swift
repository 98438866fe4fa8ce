import ConnectionCore
import Locking

/// The control side of the test stand: a TCP server that sends every command to all
/// connected lanterns. A lantern that connects gets the current state first (`ON` or `OFF`,
/// then `COLOR`), so it shows what the others show.
///
/// The current state is what the lanterns were sent: the commands of every broadcast, raw bytes
/// included, decoded by a ``LanternDecoder`` of the standard commands. Each broadcast is decoded
/// on its own: a partial or malformed TLV in ``send(raw:)`` changes nothing in this state and
/// never shifts how later broadcasts are read into it, so a new lantern gets a state it can
/// read from a command's first byte. (Lanterns connected at that moment read the bytes as
/// sent, malformed ones included; a command split over two `send(raw:)` calls is not part of
/// this state.)
public final class LanternControlServer: Sendable {
    /// A connected lantern.
    public struct Lantern: Sendable, Hashable, Identifiable {
        /// A number unique for this server's lifetime.
        public let id: Int
        /// The lantern's address, e.g. `127.0.0.1:40312`.
        public let address: String
    }

    /// Something that happened, for a log or a live page.
    public enum Event: Sendable, Hashable {
        /// A lantern connected.
        case connected(Lantern)
        /// A lantern went.
        case disconnected(Lantern)
        /// Bytes were sent to `count` lanterns; the state is now `state`.
        case sent(count: Int, state: LanternState)
    }

    /// The port it listens on.
    public let port: Int

    private struct Client: Sendable {
        let lantern: Lantern
        let connection: StreamConnection
    }

    private struct Shared: Sendable {
        var clients: [Int: Client] = [:]
        var lastID = 0
        var state = LanternState()
        var stopped = false
    }

    private let shared = LockedValue(Shared())
    private let listener: StreamListener
    private let eventBroadcaster = Broadcaster<Event>(bufferingNewest: 4096)

    /// Starts listening at once.
    /// - Parameters:
    ///   - host: The address; default 127.0.0.1.
    ///   - port: The TLV port; 0 picks a free one. Default 9999.
    ///   - loops: The event loops (threads) the lanterns' connections are spread over; nil,
    ///     the default, one per active core.
    ///   - idleTimeout: A lantern that sends and receives nothing for this long is
    ///     disconnected; nil, the default: never (lanterns only listen, and may wait for
    ///     commands for hours).
    ///   - drainTimeout: A lantern whose commands wait without one byte taken for this long
    ///     (it stopped reading) is disconnected; nil: never. Default 60 s.
    /// - Throws: When the address cannot be bound (its reason).
    public init(host: String = "127.0.0.1", port: Int = 9999, loops: Int? = nil, idleTimeout: Duration? = nil,
                drainTimeout: Duration? = .seconds(60)) throws {
        let owner = ListenerOwner<LanternControlServer>()
        listener = try StreamListener(
            host: host, port: port, group: .shared(loops: loops ?? EventLoopGroup.defaultServerLoopCount), configuration: ConnectionConfiguration(inboundBufferLimit: 64 << 10, outboundHighWater: 1 << 20,
                                                                                                                     idleTimeout: idleTimeout, drainTimeout: drainTimeout),
            handshakeTimeout: .seconds(10),
            makeConnection: { (LanternServerCodec(), nil) },
            onConnection: owner.forward { server, connection in server.accept(connection) },
            onRejection: { _ in })
        self.port = listener.port
        owner.attach(self)
    }

    deinit {
        listener.stop()
    }

    /// The lanterns connected now, in the order they came.
    public var lanterns: [Lantern] {
        shared.withLock { $0.clients.values.map(\.lantern).sorted { $0.id < $1.id } }
    }

    /// The state the lanterns were last sent.
    public var state: LanternState { shared.withLock { $0.state } }

    /// What happens from now on; finishes after ``stop()``.
    public var events: AsyncStream<Event> { eventBroadcaster.makeStream() }

    /// Sends a command to every lantern.
    /// - Parameter command: A built-in command (a registered one has no encoding here: send its
    ///   bytes with ``send(raw:)``).
    /// - Returns: How many lanterns it was sent to.
    @discardableResult
    public func send(_ command: LanternCommand) -> Int {
        send(raw: command.encoded ?? [])
    }

    /// Sends bytes as they are to every lantern (for testing unknown or malformed commands).
    /// - Parameter bytes: TLV bytes, or anything.
    /// - Returns: How many lanterns they were sent to.
    @discardableResult
    public func send(raw bytes: [UInt8]) -> Int {
        // Queued under the lock, so every lantern gets the broadcasts in one order and a new
        // lantern's first state is exactly what came before them.
        let (sent, refused) = shared.withLock { shared -> ([StreamConnection], [StreamConnection]) in
            var decoder = LanternDecoder()
            var outputs: [LanternDecoder.Output] = []
            decoder.feed(bytes, into: &outputs)
            for case .command(let command) in outputs { shared.state = shared.state.applying(command) }
            var sent: [StreamConnection] = []
            var refused: [StreamConnection] = []
            for client in shared.clients.values {
                do {
                    try CodecConnection<LanternServerCodec>(client.connection).enqueue(bytes)
                    sent.append(client.connection)
                } catch {
                    refused.append(client.connection)
                }
            }
            _ = eventBroadcaster.enqueue(.sent(count: sent.count, state: shared.state))
            return (sent, refused)
        }
        eventBroadcaster.deliver()
        for connection in sent { connection.flush() }
        // A lantern a megabyte behind is not reading: dropped (it reconnects and gets the state).
        for connection in refused { connection.abort() }
        return sent.count
    }

    /// Stops listening and drops every lantern.
    public func stop() {
        let clients = shared.withLock { shared -> [Client] in
            shared.stopped = true
            return Array(shared.clients.values)
        }
        listener.stop()
        for client in clients { client.connection.abort() }
        eventBroadcaster.finish()
    }

    private func accept(_ connection: StreamConnection) {
        let lantern = shared.withLock { shared -> Lantern? in
            guard !shared.stopped else { return nil }
            shared.lastID += 1
            let lantern = Lantern(id: shared.lastID, address: connection.remoteAddress)
            shared.clients[lantern.id] = Client(lantern: lantern, connection: connection)
            try? CodecConnection<LanternServerCodec>(connection).enqueue(shared.state.commandBytes)
            _ = eventBroadcaster.enqueue(.connected(lantern))
            return lantern
        }
        guard let lantern else {
            connection.abort()
            return
        }
        eventBroadcaster.deliver()
        connection.flush()
        Task {
            while await connection.receiveBatch() != nil {}
            shared.withLock { shared in
                shared.clients[lantern.id] = nil
                _ = eventBroadcaster.enqueue(.disconnected(lantern))
            }
            eventBroadcaster.deliver()
            _ = await connection.close("done")
        }
    }
}
