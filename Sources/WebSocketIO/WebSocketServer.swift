import Locking
import TCPTransport
import WebSocketCore

/// A WebSocket server: a TCP listener whose accepted connections complete the opening
/// handshake on their own I/O thread and are then handed out on ``connections``.
///
/// Requests that fail the handshake get a 400/405/426 response and are closed; they never
/// reach ``connections``.
package final class WebSocketServer: Sendable {
    /// The port the server listens on (the system's choice when started with port 0).
    package let port: Int
    /// The address the server is bound to.
    package let address: SocketAddress
    /// Connections whose handshake succeeded, in the order they completed.
    package let connections: AsyncStream<WebSocketConnection>
    /// Problems with peers that never became connections (bad handshakes, timeouts), for logging.
    package let rejections: AsyncStream<String>

    private let listener: TCPListener
    private let wakeup: WakeupPipe
    private let stopped = LockedValue(false)
    private let connectionsContinuation: AsyncStream<WebSocketConnection>.Continuation
    private let rejectionsContinuation: AsyncStream<String>.Continuation
    private let configuration: WebSocketConfiguration

    /// Binds `host`:`port` (0 = any free port) and starts accepting.
    /// - Throws: ``WebSocketError/connectFailed(_:)`` carrying the bind error (e.g. address in use).
    package init(host: String = "127.0.0.1", port: Int = 0, configuration: WebSocketConfiguration = .init()) throws(WebSocketError) {
        do {
            listener = try TCPListener.bind(host: host, port: port)
            wakeup = try WakeupPipe()
        } catch {
            throw .connectFailed(error)
        }
        self.port = listener.port
        self.address = listener.address
        self.configuration = configuration
        (connections, connectionsContinuation) = AsyncStream.makeStream(of: WebSocketConnection.self)
        (rejections, rejectionsContinuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(100))
        startIOThread(name: "WebSocket server :\(self.port)") { [self] in
            acceptLoop()
        }
    }

    /// Stops accepting and ends ``connections``. Open connections stay open: close them
    /// yourself. Idempotent.
    package func stop() {
        guard stopped.withLock({ (stopped: inout Bool) -> Bool in
            defer { stopped = true }
            return !stopped
        }) else { return }
        wakeup.wake()
    }

    private var isStopped: Bool { stopped.withLock { $0 } }

    private func acceptLoop() {
        defer {
            listener.socket.close()
            connectionsContinuation.finish()
            rejectionsContinuation.finish()
        }
        while !isStopped {
            guard let ready = try? pollDescriptors([(listener.socket.descriptor, .readable), (wakeup.readDescriptor, .readable)],
                                                   timeoutMilliseconds: -1) else { return }
            if !ready[1].isEmpty { wakeup.drain() }
            guard !ready[0].isEmpty else { continue }
            while !isStopped {
                let accepted: Socket?
                do {
                    accepted = try listener.accept()
                } catch {
                    // EMFILE and friends: report, back off briefly, keep serving.
                    rejectionsContinuation.yield("accept failed: \(error)")
                    _ = try? pollDescriptors([(wakeup.readDescriptor, .readable)], timeoutMilliseconds: 100)
                    break
                }
                guard let socket = accepted else { break }
                let remote = socket.peerAddress?.description ?? "?"
                startIOThread(name: "WebSocket \(remote)") { [self] in
                    serve(socket, remote: remote)
                }
            }
        }
    }

    /// Performs the server handshake on an accepted socket, then runs the connection.
    private func serve(_ socket: Socket, remote: String) {
        let deadline = ContinuousClock.now + configuration.handshakeTimeout
        let head: HTTPHead
        let rest: [UInt8]
        do {
            (head, rest) = try HandshakeIO.readHead(from: socket, maxSize: configuration.maxHandshakeSize,
                                                    deadline: deadline, cancellation: nil)
        } catch {
            if case .head(let headError) = error {
                let status = if case .tooLarge = headError { 431 } else { 400 }
                let rejection = ServerHandshake.reject(status, headError.description)
                try? HandshakeIO.writeAll(rejection.response, to: socket, deadline: deadline, cancellation: nil)
            }
            rejectionsContinuation.yield("\(remote): handshake failed: \(error)")
            socket.shutdown()
            socket.close()
            return
        }
        switch ServerHandshake.respond(to: head) {
        case .failure(let rejection):
            try? HandshakeIO.writeAll(rejection.response, to: socket, deadline: deadline, cancellation: nil)
            rejectionsContinuation.yield("\(remote): refused with \(rejection.status): \(rejection.reason)")
            socket.shutdown()
            socket.close()
        case .success(let accepted):
            let wakeup: WakeupPipe
            do {
                try HandshakeIO.writeAll(accepted.response, to: socket, deadline: deadline, cancellation: nil)
                wakeup = try WakeupPipe()
            } catch {
                rejectionsContinuation.yield("\(remote): handshake failed: \(error)")
                socket.close()
                return
            }
            let connection = WebSocketConnection(role: .server, socket: socket, wakeup: wakeup, configuration: configuration,
                                                 path: accepted.path, handshakeHead: accepted.request, remoteAddress: remote)
            if case .terminated = connectionsContinuation.yield(connection) {
                connection.abort()
            }
            connection.runIOLoop(initialBytes: rest)
        }
    }
}
