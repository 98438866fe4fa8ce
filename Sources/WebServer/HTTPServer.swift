import ConnectionCore
import Locking
import TCPTransport
import WebSocketCore
import WebSocketIO

/// A small HTTP/1.1 server on a group of event loops (connections spread over them): `Content-Length` bodies, keep-alive,
/// pipelined requests answered in order, limits (head 16 KiB: 431, body 64 KiB: 413,
/// chunked: 501, garbage: 400), and WebSocket upgrades on the same port handed to a handler.
package final class HTTPServer: Sendable {
    /// Answers a request.
    package typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse
    /// Serves a WebSocket a request was upgraded to, until it ends.
    package typealias WebSocketHandler = @Sendable (WebSocketConnection, HTTPRequest) async -> Void
    /// Looks at an upgrade request before it is accepted: nil lets it through, a response
    /// refuses it (sent instead of the upgrade; the connection then closes).
    package typealias UpgradeGate = @Sendable (HTTPRequest) -> HTTPResponse?

    /// The port it listens on.
    package let port: Int

    private let listener: StreamListener
    private let connections = LockedValue<[ObjectIdentifier: StreamConnection]>([:])
    private let stopped = LockedValue(false)

    /// Starts listening at once.
    /// - Parameters:
    ///   - maxConnections: served at once; the next is accepted and closed at once.
    ///   - webSocketConfiguration: limits and buffers of upgraded connections (and of every
    ///     connection's buffers).
    ///   - group: the event loops the connections are spread over (default: one per core).
    ///   - webSocket: upgrades requests with `Upgrade: websocket` (any path); nil answers them
    ///     as plain requests (404 unless routed).
    ///   - upgradeGate: refuses upgrade requests (credentials, origins) before they are
    ///     accepted; nil accepts every valid one.
    ///   - onRejection: hears about bad requests and refused upgrades, for logs.
    ///   - requestTimeout: how long a connection may take to complete its next request (the
    ///     first one included; a keep-alive connection idle that long is closed too), so a
    ///     client that sends half a head and stalls holds nothing for long.
    ///   - tls: the server's TLS identity (https and wss); nil serves plaintext. The TLS
    ///     handshake must complete within 10 s of the connection.
    package init(host: String = "127.0.0.1", port: Int, maxHeadSize: Int = 16 << 10, maxBodySize: Int = 64 << 10, maxConnections: Int = 16_384,
                 requestTimeout: Duration = .seconds(10), tls: TLSServerContext? = nil,
                 webSocketConfiguration: WebSocketConfiguration = .init(drainTimeout: WebSocketConfiguration.serverDrainTimeout), group: EventLoopGroup = .shared(loops: EventLoopGroup.defaultServerLoopCount),
                 webSocket: WebSocketHandler? = nil, upgradeGate: UpgradeGate? = nil, onRejection: @escaping @Sendable (String) -> Void = { _ in },
                 handler: @escaping Handler) throws(SocketError) {
        let owner = ListenerOwner<HTTPServer>()
        listener = try StreamListener(
            host: host, port: port, group: group, configuration: webSocketConfiguration.connection,
            handshakeTimeout: .seconds(10), tls: tls,
            makeConnection: { (HTTPServerCodec(maxHeadSize: maxHeadSize, maxBodySize: maxBodySize), nil) },
            onConnection: owner.forward { server, connection in
                guard server.admit(connection, limit: maxConnections) else {
                    connection.abort()
                    return
                }
                Task {
                    let upgrade = await Self.serve(connection, requestTimeout: requestTimeout, webSocketConfiguration: webSocketConfiguration,
                                                   handler: handler, upgrades: webSocket != nil, upgradeGate: upgradeGate,
                                                   onRejection: onRejection)
                    if let webSocket, let (socket, request) = upgrade { await webSocket(socket, request) }
                    server.connections.withLock { $0[ObjectIdentifier(connection)] = nil }
                }
            },
            onRejection: { _ in })
        self.port = listener.port
        owner.attach(self)
    }

    deinit { stop() }

    /// Each open connection's buffers (responses waiting, requests buffered, whether it is
    /// read), for statistics and tests.
    package var connectionBuffers: [StreamConnection.Buffers] {
        connections.withLock { Array($0.values) }.map(\.buffers)
    }

    /// Stops listening and drops every connection.
    package func stop() {
        stopAccepting()
        for connection in connections.withLock({ Array($0.values) }) { connection.abort() }
    }

    /// Stops listening; open connections stay (their owners close them).
    package func stopAccepting() {
        stopped.withLock { $0 = true }
        listener.stop()
    }

    private func admit(_ connection: StreamConnection, limit: Int) -> Bool {
        guard !stopped.withLock({ $0 }) else { return false }
        return connections.withLock { connections in
            guard connections.count < limit else { return false }
            connections[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    /// One connection: requests in order, each answered before the next is looked at.
    /// Answers requests until the connection ends, or one upgrades it to WebSocket: then the
    /// upgraded connection and its request, for the WebSocket handler.
    private static func serve(_ connection: StreamConnection, requestTimeout: Duration, webSocketConfiguration: WebSocketConfiguration,
                              handler: Handler, upgrades: Bool, upgradeGate: UpgradeGate?,
                              onRejection: @Sendable (String) -> Void) async -> (WebSocketConnection, HTTPRequest)? {
        let http = CodecConnection<HTTPServerCodec>(connection)
        var answered = false
        while true {
            // The deadline is a loop timer, cancelled as soon as the request is in (a sleeping
            // task per request would stay allocated until its deadline even when cancelled).
            let expired = LockedValue(false)
            let idleAfterAnswer = answered
            let received = connection.messagesReceived
            let deadline = connection.loop.schedule(at: .now + requestTimeout) {
                // A request that arrived in time but waits for this task (a busy cooperative
                // pool) is not late: the timeout is the peer's, not ours.
                guard connection.messagesReceived == received else { return }
                expired.withLock { $0 = true }
                if idleAfterAnswer {
                    // Keep-alive idle: close with a FIN after what was sent. A reset would make
                    // the peer's kernel drop a response it has not read yet.
                    Task { _ = await connection.close("idle") }
                } else {
                    connection.abort()
                }
            }
            let batch = await http.receiveBatch()
            deadline.cancel()
            if expired.withLock({ $0 }) {
                if !idleAfterAnswer { onRejection("\(connection.remoteAddress): no complete request within \(requestTimeout)") }
                _ = await connection.close("idle")
                return nil
            }
            guard let batch else { break }
            for item in batch {
                let request: HTTPRequest
                switch item {
                case .failed(let failure):
                    onRejection("\(connection.remoteAddress): \(failure.status) \(failure.reason)")
                    try? await http.send(.response(HTTPResponseMessage(response: .text(failure.status, failure.reason), keepAlive: false)))
                    _ = await connection.close("done")
                    return nil
                case .message(let received):
                    request = received
                }
                if request.isWebSocketUpgrade, upgrades {
                    if let refusal = upgradeGate?(request) {
                        // The gate's reason (its response body), never the request: its target or
                        // head may carry a token.
                        var reason = String(decoding: refusal.body.prefix(200), as: UTF8.self)
                        while reason.last?.isNewline == true { reason.removeLast() }
                        onRejection("\(connection.remoteAddress): upgrade refused: \(refusal.status) \(reason)")
                        try? await http.send(.response(HTTPResponseMessage(response: refusal, keepAlive: false)))
                        _ = await connection.close("done")
                        return nil
                    }
                    switch ServerHandshake.respond(to: request.head, deflate: webSocketConfiguration.deflate) {
                    case .success(let accepted):
                        let codec = WebSocketCodec(role: .server, limits: webSocketConfiguration.limits,
                                                   deflateConfiguration: webSocketConfiguration.deflate, deflate: accepted.deflate)
                        guard (try? await http.send(.upgrade(HTTPUpgrade(response: accepted.response, codec: codec)))) != nil else { return nil }
                        return (WebSocketConnection(upgraded: connection, path: accepted.path, head: request.head), request)
                    case .failure(let rejected):
                        onRejection("\(connection.remoteAddress): \(rejected.status) \(rejected.reason)")
                        try? await http.send(.response(HTTPResponseMessage(response: .text(rejected.status, rejected.reason), keepAlive: false)))
                        _ = await connection.close("done")
                        return nil
                    }
                }
                let response = await handler(request)
                let keepAlive = request.keepAlive && !request.isWebSocketUpgrade
                guard (try? await http.send(.response(HTTPResponseMessage(response: response, keepAlive: keepAlive)))) != nil else { return nil }
                answered = true
                if !keepAlive {
                    _ = await connection.close("done")
                    return nil
                }
            }
        }
        _ = await connection.close("done")
        return nil
    }
}
