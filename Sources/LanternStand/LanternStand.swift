import ConnectionCore
import Lantern
import Locking
import SensorWire
import WebServer
import WebSocketIO

/// The lantern test stand: the TLV control server, the JSON control API and the live web page.
///
/// - TLV port: every command goes to all connected lanterns; a new one gets the state first.
/// - API port: `POST /` with `{"method": "message", "params": {"command": "COLOR", "value": "ff0000"}}`
///   or `{"method": "raw", "params": {"hex": "..."}}`; answers `{"ok": true, "sent_to": N}`, or
///   400 `{"ok": false, "error": "..."}`.
/// - Web port: the page (`GET /`), its snapshot (`GET /state`), the same API (`POST /api`) and
///   live events over a WebSocket (`/live`), so several browsers stay in sync.
package final class LanternStand: Sendable {
    /// The TLV server.
    package let control: LanternControlServer
    /// The JSON API's server.
    package let api: HTTPServer
    /// The page's server.
    package let web: HTTPServer

    /// Starts all three servers.
    /// - Parameter loops: the event loops all three spread their connections over; nil, one per core.
    /// - Throws: the first bind that fails.
    package init(host: String = "127.0.0.1", tlvPort: Int = 9999, apiPort: Int = 9000, webPort: Int = 8888, loops: Int? = nil) throws {
        let group = EventLoopGroup.shared(loops: loops ?? EventLoopGroup.defaultServerLoopCount)
        let control = try LanternControlServer(host: host, port: tlvPort, loops: group.loops.count)
        self.control = control
        var apiRoutes = HTTPRoutes()
        apiRoutes.add("POST", "/") { request in Self.answer(request, control: control) }
        let apiTable = apiRoutes
        api = try HTTPServer(host: host, port: apiPort, group: group) { await apiTable.respond(to: $0) }
        var webRoutes = HTTPRoutes()
        webRoutes.add("GET", "/") { _ in HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(LanternPage.html.utf8)) }
        webRoutes.add("GET", "/state") { _ in .json(200, Self.snapshot(control)) }
        webRoutes.add("POST", "/api") { request in Self.answer(request, control: control) }
        let webTable = webRoutes
        web = try HTTPServer(host: host, port: webPort, group: group, webSocket: { connection, request in
            guard request.path == "/live" else {
                _ = await connection.close(code: .policyViolation, reason: "no such socket")
                return
            }
            await Self.live(connection, control: control)
        }, handler: { await webTable.respond(to: $0) })
    }

    /// Stops the three servers; lanterns and browsers are disconnected.
    package func stop() {
        control.stop()
        api.stop()
        web.stop()
    }

    /// Answers an API call.
    static func answer(_ request: HTTPRequest, control: LanternControlServer) -> HTTPResponse {
        switch LanternAPIRequest.parse(request.body) {
        case .failure(let error):
            return .json(400, JSONSerializer.serialize(["ok": false, "error": .string(error.message)]))
        case .success(.command(let command)):
            return .json(200, JSONSerializer.serialize(["ok": true, "sent_to": .number(Double(control.send(command)))]))
        case .success(.raw(let bytes)):
            return .json(200, JSONSerializer.serialize(["ok": true, "sent_to": .number(Double(control.send(raw: bytes)))]))
        }
    }

    /// `{"lanterns": [{"id": 1, "address": "..."}], "state": {"on": true, "color": "ff0000"}}`.
    static func snapshot(_ control: LanternControlServer) -> String {
        JSONSerializer.serialize(snapshotValue(control))
    }

    private static func snapshotValue(_ control: LanternControlServer) -> JSONValue {
        let state = control.state
        let lanterns = control.lanterns.map { lantern -> JSONValue in ["id": .number(Double(lantern.id)), "address": .string(lantern.address)] }
        return ["lanterns": .array(lanterns), "state": ["on": .bool(state.isOn), "color": .string(state.color.hex)]]
    }

    /// A browser's live socket: the snapshot now and after every change, until it goes.
    private static func live(_ connection: WebSocketConnection, control: LanternControlServer) async {
        let events = control.events
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // The browser sends nothing; this ends when it goes.
                while await connection.receive() != nil {}
            }
            group.addTask {
                func push() async -> Bool {
                    let message = JSONSerializer.serialize(["event": "lanterns", "data": snapshotValue(control)])
                    return (try? await connection.send(text: message)) != nil
                }
                guard await push() else { return }
                for await _ in events {
                    guard await push() else { return }
                }
            }
            await group.next()
            group.cancelAll()
        }
        _ = await connection.close()
    }
}
