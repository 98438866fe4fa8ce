import ConnectionCore
import Locking
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

    private let listenerBox = LockedValue<StreamListener?>(nil)
    private let connections = LockedValue<[ObjectIdentifier: StreamConnection]>([:])
    private let stopped = LockedValue(false)

    private struct WeakServer: Sendable {
        weak var server: HTTPServer?
    }

    /// Starts listening at once.
    /// - Parameters:
    ///   - maxConnections: served at once; the next is accepted and closed at once.
    ///   - webSocket: upgrades requests with `Upgrade: websocket` (any path); nil answers them 404.
    package init(host: String = "127.0.0.1", port: Int, maxHeadSize: Int = 16 << 10, maxBodySize: Int = 64 << 10, maxConnections: Int = 1024,
                 webSocket: WebSocketHandler? = nil, handler: @escaping Handler) throws {
        let box = LockedValue(WeakServer())
        let listener = try StreamListener(
            host: host, port: port, configuration: ConnectionConfiguration(inboundBufferLimit: 1 << 20, outboundHighWater: 4 << 20),
            handshakeTimeout: .seconds(10),
            makeConnection: { (HTTPServerCodec(maxHeadSize: maxHeadSize, maxBodySize: maxBodySize), nil) },
            onConnection: { connection in
                guard let server = box.withLock({ $0.server }), server.admit(connection, limit: maxConnections) else {
                    connection.abort()
                    return
                }
                Task {
                    await Self.serve(connection, handler: handler, webSocket: webSocket)
                    server.connections.withLock { $0[ObjectIdentifier(connection)] = nil }
                }
            },
            onRejection: { _ in })
        self.port = listener.port
        listenerBox.withLock { $0 = listener }
        box.withLock { $0.server = self }
    }

    deinit { stop() }

    /// Stops listening and drops every connection.
    package func stop() {
        stopped.withLock { $0 = true }
        listenerBox.withLock { $0 }?.stop()
        for connection in connections.withLock({ Array($0.values) }) { connection.abort() }
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
    private static func serve(_ connection: StreamConnection, handler: Handler, webSocket: WebSocketHandler?) async {
        while let batch = await connection.receiveBatch() {
            for item in batch {
                if let failure = item as? HTTPRequestParser.Failure {
                    try? await connection.send(HTTPResponseMessage(response: .text(failure.status, failure.reason), keepAlive: false))
                    _ = await connection.close("done")
                    return
                }
                guard let request = item as? HTTPRequest else { continue }
                if request.isWebSocketUpgrade, let webSocket {
                    switch ServerHandshake.respond(to: request.head) {
                    case .success(let accepted):
                        let codec = WebSocketCodec(role: .server, limits: WebSocketConfiguration().limits)
                        guard (try? await connection.send(HTTPUpgrade(response: accepted.response, codec: codec))) != nil else { return }
                        let upgraded = WebSocketConnection(upgraded: connection, path: accepted.path, head: request.head, configuration: WebSocketConfiguration())
                        await webSocket(upgraded, request)
                        return
                    case .failure(let rejected):
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
}
