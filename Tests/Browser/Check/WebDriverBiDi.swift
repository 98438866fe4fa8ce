import Foundation
import SensorWire
import TCPTransport
import WebSocketIO

/// A headless Firefox driven over WebDriver BiDi (its remote agent's WebSocket), through our
/// own WebSocket client: the same checks as ``DevTools`` drives in Chromium.
final class WebDriverBiDi: BrowserDriver, @unchecked Sendable {
    private let process: Process
    private let profile: URL
    private let socket: WebSocketConnection
    private var lastID = 0
    private var context = ""

    init(browser: String) async throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("bidi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        // A free port for the remote agent (it cannot pick one and tell us reliably).
        let probe = try await Self.freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = ["--headless", "--no-remote", "--profile", profile.path, "--remote-debugging-port=\(probe)", "about:blank"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var connected: WebSocketConnection?
        for _ in 0..<300 {
            if let socket = try? await WebSocketConnection.connect(host: "127.0.0.1", port: probe, path: "/session") {
                connected = socket
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let connected else { throw DevTools.Failure(description: "Firefox did not open its WebDriver BiDi port") }
        socket = connected
        _ = try await call("session.new", ["capabilities": .object([:])])
        let tree = try await call("browsingContext.getTree", [:])
        guard let first = tree["contexts"]?[0]?["context"]?.stringValue else { throw DevTools.Failure(description: "no browsing context") }
        context = first
        _ = try await call("browsingContext.setViewport", ["context": .string(context), "viewport": ["width": 1280, "height": 900]])
    }

    private static func freePort() async throws -> Int {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.socket.close() }
        return listener.port
    }

    @discardableResult
    private func call(_ method: String, _ params: [String: JSONValue]) async throws -> JSONValue {
        lastID += 1
        try await socket.send(text: JSONSerializer.serialize(["id": .number(Double(lastID)), "method": .string(method), "params": .object(params)]))
        while let reply = await socket.receive() {
            guard case .text(let text) = reply, let json = try? JSONParser.parse(text), json["id"]?.intValue == lastID else { continue }
            if json["type"]?.stringValue == "error" { throw DevTools.Failure(description: "\(method): \(json["message"] ?? json)") }
            return json["result"] ?? .null
        }
        throw DevTools.Failure(description: "WebDriver BiDi connection ended")
    }

    func open(_ url: String) async throws {
        _ = try await call("browsingContext.navigate", ["context": .string(context), "url": .string(url), "wait": "complete"])
    }

    func evaluate(_ expression: String) async throws -> JSONValue {
        let result = try await call("script.evaluate", ["expression": .string(expression), "target": ["context": .string(context)], "awaitPromise": true])
        if result["type"]?.stringValue == "exception" { throw JavaScriptException(description: "\(expression): \(result)") }
        guard result["type"]?.stringValue == "success", let value = result["result"] else {
            throw DevTools.Failure(description: "\(expression): \(result)")
        }
        switch value["type"]?.stringValue {
        case "string": return value["value"] ?? .null
        case "number": return value["value"]?.doubleValue.map(JSONValue.number) ?? .null
        case "boolean": return value["value"] ?? .null
        default: return .null
        }
    }

    func screenshot(to path: String) async throws {
        let shot = try await call("browsingContext.captureScreenshot", ["context": .string(context)])
        guard let base64 = shot["data"]?.stringValue, let data = Data(base64Encoded: base64) else { throw DevTools.Failure(description: "no screenshot") }
        try data.write(to: URL(fileURLWithPath: path))
    }

    func close() {
        stop(process)
        try? FileManager.default.removeItem(at: profile)
    }
}
