import Locking
import TCPTransport

/// A TCP listener on an ``EventLoop``: every accepted socket becomes a ``StreamConnection``
/// that runs its handshake on the same loop and is handed out once the handshake succeeded.
/// Thousands of connections, handshakes included, cost no thread each.
package final class StreamListener: EventLoopHandler, Sendable {
    /// The port the listener is bound to (the system's choice when started with port 0).
    package let port: Int
    /// The address it is bound to.
    package let address: SocketAddress
    /// The loop it runs on.
    package let loop: EventLoop
    /// The loops its connections are spread over (the listener's own loop is the first).
    package let group: EventLoopGroup

    private let listener: TCPListener
    private let configuration: ConnectionConfiguration
    private let handshakeTimeout: Duration
    private let makeConnection: @Sendable () -> (any StreamCodec, (any StreamHandshake)?)
    private let onConnection: @Sendable (StreamConnection) -> Void
    private let onRejection: @Sendable (String) -> Void
    private let onStop: @Sendable () -> Void
    private let tls: TLSServerContext?
    private let stopped = LockedValue(false)

    /// Binds `host`:`port` (0 = any free port) and starts accepting.
    /// - Parameters:
    ///   - configuration: every accepted connection's buffers; without an
    ///     ``ConnectionConfiguration/outboundLowWater``, half the high-water mark (servers stop
    ///     reading peers that do not read their answers).
    ///   - makeConnection: a fresh codec and handshake for each accepted socket.
    ///   - onConnection: called on the loop with each connection whose handshake succeeded.
    ///   - onRejection: what went wrong with peers that never became connections, for logs.
    ///   - onStop: called once, on the loop, after ``stop()`` closed the listening socket.
    ///   - tls: the server's TLS identity: every accepted socket speaks TLS first. Nil: plaintext.
    /// - Throws: the bind error (e.g. address in use).
    ///   - group: the loops accepted connections are spread over, in turn; the listener runs on
    ///     the first. Default: ``EventLoop/shared`` alone.
    package init(host: String, port: Int, group: EventLoopGroup = EventLoopGroup(loops: [.shared]), configuration: ConnectionConfiguration,
                 handshakeTimeout: Duration, tls: TLSServerContext? = nil,
                 makeConnection: @escaping @Sendable () -> (any StreamCodec, (any StreamHandshake)?),
                 onConnection: @escaping @Sendable (StreamConnection) -> Void,
                 onRejection: @escaping @Sendable (String) -> Void,
                 onStop: @escaping @Sendable () -> Void = {}) throws(SocketError) {
        listener = try TCPListener.bind(host: host, port: port)
        self.port = listener.port
        self.address = listener.address
        self.loop = group.loops[0]
        self.group = group
        // Every server stops reading a peer whose answers pile up (write backpressure).
        var configuration = configuration
        if configuration.outboundLowWater == nil { configuration.outboundLowWater = configuration.outboundHighWater / 2 }
        self.configuration = configuration
        self.handshakeTimeout = handshakeTimeout
        self.makeConnection = makeConnection
        self.onConnection = onConnection
        self.onRejection = onRejection
        self.onStop = onStop
        self.tls = tls
        loop.execute { [self] in watch() }
    }

    /// Stops accepting and closes the listening socket. Open connections stay open. Idempotent.
    package func stop() {
        let first = stopped.withLock { (stopped: inout Bool) -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        loop.execute { [self] in
            loop.deregister(listener.socket.descriptor)
            listener.socket.close()
            onStop()
        }
    }

    /// Watches the listening socket for connections; when the loop cannot watch it now (a
    /// loop at its descriptor limit), reports it and tries again in 100 ms. Loop thread.
    private func watch() {
        guard !stopped.withLock({ $0 }) else { return }
        guard loop.setInterest(listener.socket.descriptor, .readable, handler: self) else {
            onRejection("cannot watch the listening socket: \(SocketError.loopFull(limit: loop.descriptorLimit)); trying again in 100 ms")
            loop.schedule(at: .now + .milliseconds(100)) { [self] in watch() }
            return
        }
    }

    package func handleEvents(_ events: PollEvents) {
        while !stopped.withLock({ $0 }) {
            let accepted: Socket?
            do {
                accepted = try listener.accept()
            } catch {
                // EMFILE and friends: report, pause accepting briefly, keep serving the others.
                onRejection("accept failed: \(error)")
                loop.setInterest(listener.socket.descriptor, [], handler: self)
                loop.schedule(at: .now + .milliseconds(100)) { [self] in watch() }
                return
            }
            guard let socket = accepted else { return }
            let remote = socket.peerAddress?.description ?? "?"
            let (codec, handshake) = makeConnection()
            let connection = StreamConnection(socket: socket, loop: group.next(), configuration: configuration, codec: codec,
                                              handshake: handshake, transport: tls?.makeTransport(), remoteAddress: remote)
            connection.start(handshakeDeadline: .now + handshakeTimeout) { [onConnection, onRejection] result in
                switch result {
                case .success: onConnection(connection)
                case .failure(let failure): onRejection("\(remote): \(failure)")
                }
            }
        }
    }
}
