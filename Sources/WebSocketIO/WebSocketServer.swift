import ConnectionCore
import TCPTransport
import WebSocketCore

/// A WebSocket server: a listener on a group of event loops whose accepted connections complete
/// the opening handshake on the loop and are then handed out on ``connections``. No thread per
/// connection.
///
/// Requests that fail the handshake get a 400/405/426/431 response and are closed; they never
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

    private let listener: StreamListener

    /// Binds `host`:`port` (0 = any free port) and starts accepting.
    /// - Parameters:
    ///   - tls: the server's TLS identity (`wss://`); nil serves plaintext.
    ///   - group: the event loops the connections are spread over (default: one per core).
    /// - Throws: ``WebSocketError/connectFailed(_:)`` carrying the bind error (e.g. address in use).
    package init(host: String = "127.0.0.1", port: Int = 0,
                 configuration: WebSocketConfiguration = .init(drainTimeout: WebSocketConfiguration.serverDrainTimeout),
                 tls: TLSServerContext? = nil, group: EventLoopGroup = .shared(loops: EventLoopGroup.defaultServerLoopCount)) throws(WebSocketError) {
        let (connections, connectionsContinuation) = AsyncStream.makeStream(of: WebSocketConnection.self)
        let (rejections, rejectionsContinuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(100))
        self.connections = connections
        self.rejections = rejections
        do {
            listener = try StreamListener(
                host: host, port: port, group: group, configuration: configuration.connection,
                handshakeTimeout: configuration.handshakeTimeout, tls: tls,
                makeConnection: {
                    (WebSocketCodec(role: .server, limits: configuration.limits, deflateConfiguration: configuration.deflate),
                     ServerUpgrade(configuration: configuration))
                },
                onConnection: { core in
                    let connection = WebSocketConnection(core: core, role: .server)
                    if case .terminated = connectionsContinuation.yield(connection) { connection.abort() }
                },
                onRejection: { rejectionsContinuation.yield($0) },
                onStop: {
                    connectionsContinuation.finish()
                    rejectionsContinuation.finish()
                })
        } catch {
            throw .connectFailed(error)
        }
        self.port = listener.port
        self.address = listener.address
    }

    /// Stops accepting and ends ``connections``. Open connections stay open: close them
    /// yourself. Idempotent.
    package func stop() { listener.stop() }
}
