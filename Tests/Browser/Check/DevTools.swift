import Foundation
import SensorWire
import WebSocketIO

/// What the checks need from a browser: open a page, evaluate JavaScript in it, take a screenshot.
protocol BrowserDriver: AnyObject {
    func open(_ url: String) async throws
    func evaluate(_ expression: String) async throws -> JSONValue
    func screenshot(to path: String) async throws
    func close()
}

extension BrowserDriver {
    /// Evaluates `expression` until it is true, at most `timeout`. A JavaScript exception (a
    /// page still loading has no such element yet) counts as "not yet" and is said if it was
    /// the last word; any other error (the browser gone) ends the wait at once.
    func waitFor(_ expression: String, timeout: Duration = .seconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        var lastException: JavaScriptException?
        while ContinuousClock.now < deadline {
            do {
                if try await evaluate(expression) == .bool(true) { return true }
                lastException = nil
            } catch let exception as JavaScriptException {
                lastException = exception
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if let lastException { say("the last evaluation threw: \(lastException)") }
        return false
    }
}

/// The page threw while evaluating an expression (as opposed to the browser failing).
struct JavaScriptException: Error, CustomStringConvertible {
    let description: String
}

/// A headless Chromium driven over the DevTools protocol, through our own WebSocket client.
final class DevTools: BrowserDriver, @unchecked Sendable {
    private let process: Process
    private let profile: URL
    private let socket: WebSocketConnection
    private var lastID = 0
    private var sessionID: String?

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts Chromium with a fresh profile and connects to its DevTools endpoint.
    init(browser: String) async throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("devtools-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
                             "--remote-debugging-port=0", "--user-data-dir=\(profile.path)", "about:blank"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let portFile = profile.appendingPathComponent("DevToolsActivePort")
        var lines: [String] = []
        for _ in 0..<300 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8) {
                lines = text.split(separator: "\n").map(String.init)
                if lines.count >= 2 { break }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard lines.count >= 2, let port = Int(lines[0]) else { throw Failure(description: "Chromium did not open its DevTools port") }
        socket = try await WebSocketConnection.connect(host: "127.0.0.1", port: port, path: lines[1])
    }

    /// Sends a command and waits for its result (events in between are skipped).
    @discardableResult
    func call(_ method: String, _ params: [String: JSONValue] = [:], session: Bool = true) async throws -> JSONValue {
        lastID += 1
        var message: [String: JSONValue] = ["id": .number(Double(lastID)), "method": .string(method), "params": .object(params)]
        if session, let sessionID { message["sessionId"] = .string(sessionID) }
        try await socket.send(text: JSONSerializer.serialize(.object(message)))
        while let reply = await socket.receive() {
            guard case .text(let text) = reply, let json = try? JSONParser.parse(text), json["id"]?.intValue == lastID else { continue }
            if let error = json["error"] { throw Failure(description: "\(method): \(error)") }
            return json["result"] ?? .null
        }
        throw Failure(description: "DevTools connection ended")
    }

    /// Opens `url` in a new tab and attaches to it.
    func open(_ url: String) async throws {
        let target = try await call("Target.createTarget", ["url": .string(url)], session: false)
        guard let targetID = target["targetId"]?.stringValue else { throw Failure(description: "no target") }
        let attached = try await call("Target.attachToTarget", ["targetId": .string(targetID), "flatten": true], session: false)
        sessionID = attached["sessionId"]?.stringValue
        try await call("Runtime.enable")
        // A new target starts as about:blank; the checks read the page, so wait until it is the
        // one asked for and loaded (the first evaluation could otherwise see the blank document).
        let loaded = "location.href.startsWith(\(JSONSerializer.serialize(.string(url)))) && document.readyState === 'complete'"
        guard try await waitFor(loaded) else { fail("\(url) did not load") }
    }

    /// Evaluates JavaScript in the page and returns its value.
    func evaluate(_ expression: String) async throws -> JSONValue {
        let result = try await call("Runtime.evaluate", ["expression": .string(expression), "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] { throw JavaScriptException(description: "\(expression): \(exception)") }
        return result["result"]?["value"] ?? .null
    }

    /// A PNG of the page.
    func screenshot(to path: String) async throws {
        let shot = try await call("Page.captureScreenshot", ["format": "png"])
        guard let base64 = shot["data"]?.stringValue, let data = Data(base64Encoded: base64) else { throw Failure(description: "no screenshot") }
        try data.write(to: URL(fileURLWithPath: path))
    }

    func close() {
        stop(process)
        try? FileManager.default.removeItem(at: profile)
    }
}

/// Ends a browser: SIGTERM, then SIGKILL if it is still there after 5 s (never blocks forever).
func stop(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    let deadline = Date().addingTimeInterval(5)
    while process.isRunning && Date() < deadline { usleep(50_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
}
