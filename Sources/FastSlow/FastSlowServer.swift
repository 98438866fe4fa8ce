import ConnectionCore
import Locking

/// A FastSlow server: answers `RequestForFastResponse` at once with its local time and
/// `RequestForSlowResponse(n)` after n seconds with the number of clients connected when the
/// request arrived.
///
/// ```swift
/// let server = try FastSlowServer(configuration: .load(path: "fastslow.conf"))
/// await server.run()   // until the task is cancelled, or stop()
/// ```
///
/// Every connection runs on the shared event loop; a slow request's sleep is a timer on that
/// loop, not a thread, so other requests (fast ones of the same client included) are answered
/// meanwhile, and answers to one connection may leave in another order than its requests.
/// Connects, disconnects and connections closed for bad input are logged with the time, the
/// peer and the clients now connected.
public final class FastSlowServer: Sendable {
    /// The configuration it runs with.
    public let configuration: FastSlowServerConfiguration
    /// The port it listens on (the one asked for, or the free one picked for 0).
    public let port: Int

    private enum TimerSlot: Sendable {
        case scheduling
        case scheduled(EventLoop.Timer)
    }

    private struct Client: Sendable {
        let connection: StreamConnection
        var session: FastSlowServerSession
        var timers: [UInt64: TimerSlot] = [:]
        var closeReason: String?
    }

    private struct Shared: Sendable {
        var clients: [ObjectIdentifier: Client] = [:]
        var nextTimer: UInt64 = 0
    }

    /// A client's connection seen through the codec's message types.
    private typealias Connection = CodecConnection<FastSlowCodec>

    private let shared = LockedValue(Shared())
    private let listener: StreamListener
    private let stopped = StopLatch()
    private let log: FastSlowLog
    private let loop: EventLoop

    /// Starts listening at once (so ``port`` is known) and serves until ``stop()``.
    /// - Parameters:
    ///   - configuration: Address, log file, limits.
    ///   - log: Receives every log line too (the CLI prints them); nil: the file only.
    /// - Throws: ``FastSlowServerError`` when the address cannot be bound or the log file
    ///   cannot be opened.
    public init(configuration: FastSlowServerConfiguration, log: (@Sendable (String) -> Void)? = nil) throws(FastSlowServerError) {
        self.configuration = configuration
        self.log = try FastSlowLog(path: configuration.logFile, handler: log)
        loop = .shared
        let maxMessageSize = configuration.maxMessageSize
        let owner = ListenerOwner<FastSlowServer>()
        let tls: TLSServerContext?
        do throws(TLSError) { tls = try TLSServerContext.loading(configuration.tls) } catch { throw .tls(error) }
        do {
            listener = try StreamListener(
                host: configuration.host, port: configuration.port, group: EventLoopGroup(loops: [loop]),
                configuration: ConnectionConfiguration(inboundBufferLimit: 1 << 20, outboundHighWater: 1 << 20,
                                                       idleTimeout: configuration.idleTimeout, drainTimeout: configuration.drainTimeout),
                handshakeTimeout: .seconds(10), tls: tls,
                makeConnection: { (FastSlowCodec(maxMessageSize: maxMessageSize), nil) },
                onConnection: owner.forward { server, connection in server.accept(connection) },
                onRejection: { _ in })
        } catch {
            throw .listen(host: configuration.host, port: configuration.port, reason: "\(error)")
        }
        port = listener.port
        owner.attach(self)
        self.log.write("listening on \(configuration.host):\(port)")
    }

    /// A server the app lets go of stops listening.
    deinit {
        listener.stop()
    }

    /// Clients connected now.
    public var connectionCount: Int { shared.withLock { $0.clients.count } }

    /// Slow requests sleeping now, over all clients (tests see that sleeps overlap).
    package var sleepingRequestCount: Int { shared.withLock { $0.clients.values.reduce(0) { $0 + $1.timers.count } } }

    /// Each client's buffers (answers waiting, requests buffered, whether it is read), for
    /// statistics and tests.
    package var connectionBuffers: [StreamConnection.Buffers] {
        shared.withLock { $0.clients.values.map(\.connection) }.map(\.buffers)
    }

    /// Serves until the calling task is cancelled or ``stop()`` is called.
    public func run() async {
        await stopped.wait { self.stop() }
    }

    /// Stops listening and drops every connection (their pending slow answers are not sent).
    public func stop() {
        stopped.stop {
            // Stopped already: no client is admitted after this snapshot.
            let clients = shared.withLock { Array($0.clients.values) }
            listener.stop()
            for client in clients {
                cancelTimers(of: client)
                client.connection.abort()
            }
            log.write("stopped")
        }
    }

    // MARK: Connections

    private func accept(_ connection: StreamConnection) {
        let id = ObjectIdentifier(connection)
        let count = shared.withLock { shared -> Int? in
            guard !stopped.isStopped, shared.clients.count < configuration.maxConnections else { return nil }
            shared.clients[id] = Client(connection: connection, session: FastSlowServerSession(maxPendingSlow: configuration.maxPendingSlowRequests))
            return shared.clients.count
        }
        guard let count else {
            log.write("refused \(connection.remoteAddress): \(configuration.maxConnections) clients connected")
            connection.abort()
            return
        }
        log.write("connected \(connection.remoteAddress), \(count) client\(count == 1 ? "" : "s") connected")
        Task { await serve(connection) }
    }

    /// Answers one client's requests until it goes (or breaks the protocol).
    private func serve(_ connection: StreamConnection) async {
        let id = ObjectIdentifier(connection)
        reading: while let batch = await Connection(connection).receiveBatch() {
            for item in batch {
                switch item {
                case .message(let messages):
                    for message in messages {
                        guard await handle(message, from: connection) else { break reading }
                    }
                case .failed(let failure):
                    close(connection, reason: failure.description)
                    break reading
                }
            }
        }
        let (client, count) = shared.withLock { shared in (shared.clients.removeValue(forKey: id), shared.clients.count) }
        guard let client else { return }
        cancelTimers(of: client)
        let reason = client.closeReason.map { " (closed: \($0))" } ?? ""
        log.write("disconnected \(connection.remoteAddress)\(reason), \(count) client\(count == 1 ? "" : "s") connected")
        _ = await connection.close("done")
    }

    /// Carries out what the session decides; false when the connection is to be closed.
    private func handle(_ message: WrapperMessage, from connection: StreamConnection) async -> Bool {
        let id = ObjectIdentifier(connection)
        let decision = shared.withLock { shared -> (FastSlowServerSession.Action, UInt64)? in
            let count = shared.clients.count
            guard let action = shared.clients[id]?.session.received(message, connectedClients: count) else { return nil }
            guard case .answerLater = action else { return (action, 0) }
            shared.nextTimer += 1
            shared.clients[id]?.timers[shared.nextTimer] = .scheduling
            return (action, shared.nextTimer)
        }
        guard let (action, timerID) = decision else { return false }
        switch action {
        case .answerFast:
            do {
                try await Connection(connection).send(.fastResponse(FastResponse(currentDateTime: FastSlowTimestamp.now().text)))
                return true
            } catch {
                return false
            }
        case .answerLater(let delay, let response):
            let timer = loop.schedule(at: .now + delay) { [weak self] in self?.answerSlow(response, to: connection, timer: timerID) }
            shared.withLock { shared in
                // Still `.scheduling` unless it already fired (a sleep of 0) or the client left.
                if case .scheduling? = shared.clients[id]?.timers[timerID] { shared.clients[id]?.timers[timerID] = .scheduled(timer) }
            }
            return true
        case .close(let reason):
            close(connection, reason: reason)
            return false
        }
    }

    /// A slow request's sleep is over (on the loop thread): answer it if the client is still here.
    private func answerSlow(_ response: SlowResponse, to connection: StreamConnection, timer: UInt64) {
        let id = ObjectIdentifier(connection)
        let present = shared.withLock { shared -> Bool in
            guard shared.clients[id]?.timers.removeValue(forKey: timer) != nil else { return false }
            shared.clients[id]?.session.slowAnswered()
            return true
        }
        guard present else { return }
        do {
            // A client that leaves its answers unread for a megabyte is not reading at all.
            try Connection(connection).sendNow(.slowResponse(response), refusingAbove: 1 << 20)
        } catch .outboundFull {
            close(connection, reason: "not reading its answers")
        } catch {
            // Closed meanwhile: not answered.
        }
    }

    private func close(_ connection: StreamConnection, reason: String) {
        shared.withLock { $0.clients[ObjectIdentifier(connection)]?.closeReason = reason }
        connection.abort()
    }

    private func cancelTimers(of client: Client) {
        for case .scheduled(let timer) in client.timers.values { timer.cancel() }
    }
}

/// Why a ``FastSlowServer`` could not start.
public enum FastSlowServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The address could not be bound (in use, not local ...).
    case listen(host: String, port: Int, reason: String)
    /// The log file could not be opened.
    case logFile(path: String, reason: String)
    /// The TLS identity could not be used (or this build has no TLS).
    case tls(TLSError)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .listen(let host, let port, let reason): "cannot listen on \(host):\(port): \(reason)"
        case .logFile(let path, let reason): "log file \(path): \(reason)"
        case .tls(let error): error.description
        }
    }
}
