import WebSocketCore

/// One HTTP/1.1 request, head and body.
package struct HTTPRequest: Sendable, Hashable {
    /// `GET`, `POST` ...
    package var method: String
    /// The request target as sent: path and query (`/api?x=1`).
    package var target: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    package var version: String
    /// The head (start line and fields in order).
    package var head: HTTPHead
    /// The body (`Content-Length` bytes; empty without one).
    package var body: [UInt8]

    /// The path: the target without its query.
    package var path: String { String(target.prefix { $0 != "?" }) }

    /// The first value of the field `name` (case-insensitive).
    package subscript(name: String) -> String? { head[name] }

    /// Whether the connection stays open after the answer: HTTP/1.1 unless `Connection: close`,
    /// HTTP/1.0 only with `Connection: keep-alive`.
    package var keepAlive: Bool {
        let tokens = head.tokens("Connection").map { $0.lowercased() }
        if version == "HTTP/1.0" { return tokens.contains("keep-alive") }
        return !tokens.contains("close")
    }

    /// Whether it asks to become a WebSocket (`Upgrade: websocket`).
    package var isWebSocketUpgrade: Bool {
        head.tokens("Upgrade").contains { $0.lowercased() == "websocket" }
    }
}
