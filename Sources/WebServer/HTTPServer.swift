import ConnectionCore
import Locking
import TCPTransport
import WebSocketCore
import WebSocketIO

/// A small HTTP/1.1 server on the shared event loop: `Content-Length` bodies, keep-alive,
/// pipelined requests answered in order, limits (head 16 KiB: 431, body 64 KiB: 413,
/// chunked: 501, garbage: 400), and WebSocket upgrades on the same port handed to a handler.
package final class HTTPServer: Sendable {
    /// Answers a request.
    package typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse
    /// Serves a WebSocket a request was upgraded to, until it ends.
    package typealias WebSocketHandler = @Sendable (WebSocketConnection, HTTPRequest) async -> Void

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
    ///   - loop: the event loop the connections run on.
    ///   - webSocket: upgrades requests with `Upgrade: websocket` (any path); nil answers them
    ///     as plain requests (404 unless routed).
    ///   - onRejection: hears about bad requests and refused upgrades, for logs.
    ///   - requestTimeout: how long a connection may take to complete its next request (the
    ///     first one included; a keep-alive connection idle that long is closed too), so a
    ///     client that sends half a head and stalls holds nothing for long.
    package init(host: String = "127.0.0.1", port: Int, maxHeadSize: Int = 16 << 10, maxBodySize: Int = 64 << 10, maxConnections: Int = 16_384,
                 requestTimeout: Duration = .seconds(10),
                 webSocketConfiguration: WebSocketConfiguration = .init(), loop: EventLoop = .shared,
                 webSocket: WebSocketHandler? = nil, onRejection: @escaping @Sendable (String) -> Void = { _ in },
                 handler: @escaping Handler) throws(SocketError) {
        let owner = ListenerOwner<HTTPServer>()
        listener = try StreamListener(
            host: host, port: port, loop: loop, configuration: webSocketConfiguration.connection,
            handshakeTimeout: .seconds(10),
            makeConnection: { (HTTPServerCodec(maxHeadSize: maxHeadSize, maxBodySize: maxBodySize), nil) },
            onConnection: owner.forward { server, connection in
                guard server.admit(connection, limit: maxConnections) else {
                    connection.abort()
                    return
                }
                Task {
                    await Self.serve(connection, requestTimeout: requestTimeout, webSocketConfiguration: webSocketConfiguration,
                                     handler: handler, webSocket: webSocket, onRejection: onRejection)
                    server.connections.withLock { $0[ObjectIdentifier(connection)] = nil }
                }
            },
            onRejection: { _ in })
        self.port = listener.port
        owner.attach(self)
    }

    deinit { stop() }

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
    private static func serve(_ connection: StreamConnection, requestTimeout: Duration, webSocketConfiguration: WebSocketConfiguration,
                              handler: Handler, webSocket: WebSocketHandler?, onRejection: @Sendable (String) -> Void) async {
        while true {
            let next = await receive(connection, within: requestTimeout)
            guard case .batch(let received) = next else {
                onRejection("\(connection.remoteAddress): no complete request within \(requestTimeout)")
                connection.abort()
                return
            }
            guard let batch = received else { break }
            for item in batch {
                if let failure = item as? HTTPRequestParser.Failure {
                    onRejection("\(connection.remoteAddress): \(failure.status) \(failure.reason)")
                    try? await connection.send(HTTPResponseMessage(response: .text(failure.status, failure.reason), keepAlive: false))
                    _ = await connection.close("done")
                    return
                }
                guard let request = item as? HTTPRequest else { continue }
                if request.isWebSocketUpgrade, let webSocket {
                    switch ServerHandshake.respond(to: request.head) {
                    case .success(let accepted):
                        let codec = WebSocketCodec(role: .server, limits: webSocketConfiguration.limits)
                        guard (try? await connection.send(HTTPUpgrade(response: accepted.response, codec: codec))) != nil else { return }
                        let upgraded = WebSocketConnection(upgraded: connection, path: accepted.path, head: request.head, configuration: webSocketConfiguration)
                        await webSocket(upgraded, request)
                        return
                    case .failure(let rejected):
                        onRejection("\(connection.remoteAddress): \(rejected.status) \(rejected.reason)")
                        try? await connection.send(HTTPResponseMessage(response: .text(rejected.status, rejected.reason), keepAlive: false))
                        _ = await connection.close("done")
                        return
                    }
                }
                let response = await handler(request)
                let keepAlive = request.keepAlive && !request.isWebSocketUpgrade
                guard (try? await connection.send(HTTPResponseMessage(response: response, keepAlive: keepAlive))) != nil else { return }
                if !keepAlive {
                    _ = await connection.close("done")
                    return
                }
            }
        }
        _ = await connection.close("done")
    }

    private enum Next: Sendable {
        case batch([any Sendable]?)
        case timedOut
    }

    /// The next batch of requests, or `timedOut` when none is complete within `timeout`.
    private static func receive(_ connection: StreamConnection, within timeout: Duration) async -> Next {
        await withTaskGroup(of: Next.self) { group in
            group.addTask { .batch(await connection.receiveBatch()) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .timedOut
            }
            let first = await group.next() ?? .timedOut
            group.cancelAll()
            return first
        }
    }
}
