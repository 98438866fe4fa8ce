import Foundation
import Locking
import TCPTransport
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Opens a ``StreamConnection`` as a client: resolves the host (an IP literal on the loop, a
/// name on a short-lived thread, since `getaddrinfo` blocks), connects over TCP trying each address in turn on the loop, then runs
/// the handshake; all of it within one deadline. Cancelling the calling task abandons it.
package enum StreamConnector {
    /// Opens a connection to `host`:`port` running `codec` after `handshake`.
    /// - Parameters:
    ///   - timeout: name resolution, TCP connect (over all resolved addresses) and handshake
    ///     together.
    ///   - handshakeTimeout: a tighter bound on the handshake alone, counted from TCP connect.
    /// - Throws: ``ConnectFailure``: ``ConnectFailure/socket(_:)`` with `.timedOut` when the
    ///   deadline passes before TCP is up, ``ConnectFailure/timedOut`` when it passes during
    ///   the handshake.
    package static func open(
        host: String, port: Int, codec: any StreamCodec, handshake: (any StreamHandshake)?,
        timeout: Duration, handshakeTimeout: Duration? = nil,
        configuration: ConnectionConfiguration = .init(), tls: TLSConfiguration? = nil, loop: EventLoop = .shared
    ) async throws(ConnectFailure) -> StreamConnection {
        // TLS is set up before anything goes on the network: without the trait, or with an
        // unreadable CA file, the open fails at once.
        let transport: (any SecureTransport)?
        do throws(TLSError) {
            transport = try tls?.makeClientTransport(host: host)
        } catch {
            throw .handshake(error)
        }
        let operation = ConnectOperation(host: host, port: port, codec: codec, handshake: handshake, transport: transport,
                                         deadline: .now + timeout, handshakeTimeout: handshakeTimeout,
                                         configuration: configuration, loop: loop)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                operation.start(continuation)
            }
        } onCancel: {
            operation.fail(.cancelled)
        }
        // The connection was made on the loop thread; take it over under the operation's lock,
        // which the loop released after making it (a plain happens-before edge, whatever the
        // continuation's own ordering).
        return try operation.handOver(result).get()
    }
}

/// One client open in progress. Its stages run on the loop; `fail` may come from anywhere.
private final class ConnectOperation: EventLoopHandler, Sendable {
    typealias Completion = CheckedContinuation<Result<StreamConnection, ConnectFailure>, Never>

    private enum Stage: Sendable {
        /// Resolving the name, or between two connect attempts: no socket is owned by the stage.
        case resolving
        /// TCP connect to `addresses[index]` in progress on `socket`.
        case connecting(addresses: [SocketAddress], index: Int, socket: Socket, lastError: SocketError)
        case handshaking(StreamConnection)
        case done
    }

    private struct State: Sendable {
        var stage = Stage.resolving
        var completion: Completion?
        var timer: EventLoop.Timer?
    }

    let host: String
    let port: Int
    let codec: any StreamCodec
    let handshake: (any StreamHandshake)?
    let transport: (any SecureTransport)?
    let deadline: ContinuousClock.Instant
    let handshakeTimeout: Duration?
    let configuration: ConnectionConfiguration
    let loop: EventLoop
    private let state = LockedValue(State())

    init(host: String, port: Int, codec: any StreamCodec, handshake: (any StreamHandshake)?, transport: (any SecureTransport)?,
         deadline: ContinuousClock.Instant, handshakeTimeout: Duration?, configuration: ConnectionConfiguration, loop: EventLoop) {
        self.transport = transport
        self.handshakeTimeout = handshakeTimeout
        self.host = host
        self.port = port
        self.codec = codec
        self.handshake = handshake
        self.deadline = deadline
        self.configuration = configuration
        self.loop = loop
    }

    func start(_ completion: Completion) {
        let alreadyFailed = state.withLock { state -> Bool in
            if case .done = state.stage { return true }
            state.completion = completion
            return false
        }
        if alreadyFailed {
            completion.resume(returning: .failure(.cancelled))
            return
        }
        let timer = loop.schedule(at: deadline) { [self] in fail(.timedOut) }
        state.withLock { $0.timer = timer }
        // An IP literal needs no resolver: connect from the loop, starting no thread (the
        // FastSlow client's spec allows none).
        if let literal = try? SocketAddress.resolve(host: host, port: port, numericOnly: true) {
            loop.execute { [self] in connect(literal, index: 0, lastError: .connectionRefused) }
            return
        }
        let thread = Thread { [self] in
            let resolved = Result { () throws(SocketError) in try SocketAddress.resolve(host: host, port: port) }
            loop.execute { [self] in
                switch resolved {
                case .success(let addresses) where !addresses.isEmpty:
                    connect(addresses, index: 0, lastError: .connectionRefused)
                case .success:
                    fail(.socket(.connectionRefused))
                case .failure(let error):
                    fail(.socket(error))
                }
            }
        }
        thread.name = "SensorStream resolver"
        thread.start()
    }

    /// Tries `addresses[index]`, then the following ones. Loop thread.
    private func connect(_ addresses: [SocketAddress], index: Int, lastError: SocketError) {
        guard index < addresses.count else {
            fail(.socket(lastError))
            return
        }
        let address = addresses[index]
        let attempt = Result { () throws(SocketError) -> (Socket, Bool) in
            let socket = try Socket.makeTCP(family: address.family)
            let code = socket.startConnect(to: address)
            if code == 0 { return (socket, true) }
            guard code == EINPROGRESS || code == EINTR else {
                socket.close()
                throw SocketError.fromErrno(code, call: "connect")
            }
            return (socket, false)
        }
        switch attempt {
        case .failure(let error):
            connect(addresses, index: index + 1, lastError: error)
        case .success(let (socket, connected)):
            // A socket in the `.connecting` stage belongs to the stage: whoever takes it out
            // (this loop, or `fail`) closes it. One connected at once never enters it.
            guard advance(to: connected ? .resolving
                          : .connecting(addresses: addresses, index: index, socket: socket, lastError: lastError)) else {
                socket.close()
                return
            }
            if connected {
                startHandshake(on: socket)
            } else if !loop.setInterest(socket.descriptor, .writable, handler: self) {
                fail(.socket(.loopFull(limit: loop.descriptorLimit)))
            }
        }
    }

    /// Moves on from resolving or connecting to `next`; false (nothing changes) once the
    /// operation is handshaking or done (cancelled, timed out).
    private func advance(to next: Stage) -> Bool {
        state.withLock { state -> Bool in
            switch state.stage {
            case .resolving, .connecting:
                state.stage = next
                return true
            case .handshaking, .done:
                return false
            }
        }
    }

    /// The socket being connected became writable (or failed). Loop thread.
    func handleEvents(_ events: PollEvents) {
        // Take the socket out of the stage: from here on this thread owns it, and a concurrent
        // `fail` finds no socket to close (closing it twice could close a reused descriptor).
        let taken = state.withLock { state -> (addresses: [SocketAddress], index: Int, socket: Socket)? in
            guard case .connecting(let addresses, let index, let socket, _) = state.stage else { return nil }
            state.stage = .resolving
            return (addresses, index, socket)
        }
        guard let (addresses, index, socket) = taken else { return }
        loop.deregister(socket.descriptor)
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
        if code == 0 {
            startHandshake(on: socket)
        } else {
            socket.close()
            connect(addresses, index: index + 1, lastError: SocketError.fromErrno(code, call: "connect"))
        }
    }

    /// TCP is up: runs the handshake on a new connection. The caller owns `socket`. Loop thread.
    private func startHandshake(on socket: Socket) {
        let connection = StreamConnection(socket: socket, loop: loop, configuration: configuration, codec: codec,
                                          handshake: handshake, transport: transport,
                                          remoteAddress: socket.peerAddress?.description ?? "\(host):\(port)")
        guard advance(to: .handshaking(connection)) else {
            socket.close()
            return
        }
        let handshakeDeadline = handshakeTimeout.map { min(deadline, .now + $0) }
        connection.start(handshakeDeadline: handshakeDeadline) { [self] result in
            switch result {
            case .success: succeed(connection)
            case .failure(let failure): fail(failure)
            }
        }
    }

    private func succeed(_ connection: StreamConnection) {
        let (completion, timer) = state.withLock { state -> (Completion?, EventLoop.Timer?) in
            guard case .handshaking = state.stage else { return (nil, nil) }
            state.stage = .done
            defer { state.completion = nil }
            return (state.completion, state.timer)
        }
        timer?.cancel()
        if let completion {
            completion.resume(returning: .success(connection))
        } else {
            connection.abort()
        }
    }

    /// The opener's side of a finished operation: its result, read under the lock.
    func handOver(_ result: Result<StreamConnection, ConnectFailure>) -> Result<StreamConnection, ConnectFailure> {
        state.withLock { _ in result }
    }

    /// Ends the operation with `failure` (any thread); later calls do nothing.
    func fail(_ failure: ConnectFailure) {
        var failure = failure
        let (stage, completion, timer) = state.withLock { state -> (Stage, Completion?, EventLoop.Timer?) in
            let stage = state.stage
            switch stage {
            case .done: return (stage, nil, nil)
            case .resolving, .connecting: if case .timedOut = failure { failure = .socket(.timedOut) }
            case .handshaking: break
            }
            state.stage = .done
            defer { state.completion = nil }
            return (stage, state.completion, state.timer)
        }
        timer?.cancel()
        switch stage {
        case .connecting(_, _, let socket, _):
            loop.execute { [self] in
                loop.deregister(socket.descriptor)
                socket.close()
            }
        case .handshaking(let connection):
            connection.failHandshake(failure)
        case .resolving, .done:
            break
        }
        completion?.resume(returning: .failure(failure))
    }
}
