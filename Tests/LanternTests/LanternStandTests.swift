import Foundation
import Lantern
import Testing
import TestSupport
import WebSocketIO
@testable import LanternStand
@testable import WebServer

/// The stand's API rules without sockets, and its servers on loopback.
@Suite("Lantern stand", .timeLimit(.minutes(1)))
struct LanternStandTests {
    @Test("API bodies: message and raw, every refusal with its reason", arguments: [
        (#"{"method": "message", "params": {"command": "COLOR", "value": "ff0000"}}"#, "ok COLOR #ff0000"),
        (##"{"method": "message", "params": {"command": "COLOR", "value": "#00FF00"}}"##, "ok COLOR #00ff00"),
        (#"{"method": "message", "params": {"command": "ON"}}"#, "ok ON"),
        (#"{"method": "message", "params": {"command": "off"}}"#, "ok OFF"),
        (#"{"method": "raw", "params": {"hex": "300002ABcd"}}"#, "ok raw 300002abcd"),
        ("{", "invalid JSON"),
        ("[]", "the body must be a JSON object"),
        (#"{"method": "message"}"#, "\"params\" must be an object"),
        (#"{"method": 1, "params": {}}"#, "\"method\" must be a string"),
        (#"{"method": "blink", "params": {}}"#, "unknown method \"blink\""),
        (#"{"method": "message", "params": {}, "id": 1}"#, "unknown member \"id\""),
        (#"{"method": "message", "params": {"command": "BLINK"}}"#, "unknown command \"BLINK\""),
        (#"{"method": "message", "params": {"command": "ON", "value": "ff0000"}}"#, "ON takes no value"),
        (#"{"method": "message", "params": {"command": "COLOR"}}"#, "COLOR needs a \"value\""),
        (#"{"method": "message", "params": {"command": "COLOR", "value": "f00"}}"#, "is not 6 hex digits"),
        (#"{"method": "message", "params": {"command": "COLOR", "value": 16711680}}"#, "COLOR needs a \"value\""),
        (#"{"method": "message", "params": {"command": "COLOR", "value": "ff0000", "x": 1}}"#, "unknown parameter \"x\""),
        (#"{"method": "raw", "params": {"hex": "abc"}}"#, "even number of hex digits"),
        (#"{"method": "raw", "params": {"hex": "zz"}}"#, "even number of hex digits"),
        (#"{"method": "raw", "params": {"hex": ""}}"#, "even number of hex digits"),
    ] as [(String, String)])
    func apiBodies(body: String, expected: String) {
        switch LanternAPIRequest.parse(Array(body.utf8)) {
        case .success(.command(let command)): #expect("ok \(command)" == expected)
        case .success(.raw(let bytes)): #expect("ok raw " + bytes.map { String(format: "%02x", $0) }.joined() == expected)
        case .failure(let error): #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    /// POSTs `body` to `port` and returns the status and body.
    static func post(_ body: String, port: Int, path: String = "/") async throws -> (Int, String) {
        try await onThread {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
            defer { peer.close() }
            try peer.write(Array("POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8))
            var bytes: [UInt8] = []
            while true {
                let more = try peer.read(count: 65_536, timeout: .seconds(5))
                if more.isEmpty { break }
                bytes += more
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let status = Int(text.split(separator: " ")[1]) ?? 0
            return (status, String(text.components(separatedBy: "\r\n\r\n").last ?? ""))
        }
    }

    @Test("the API sends to every lantern and says how many; a bad body is a 400 with the reason, as JSON")
    func api() async throws {
        let stand = try LanternStand(tlvPort: 0, apiPort: 0, webPort: 0)
        defer { stand.stop() }
        let lantern = LanternClient(port: stand.control.port)
        #expect(await eventually { stand.control.lanterns.count == 1 })
        let (status, body) = try await Self.post(#"{"method": "message", "params": {"command": "COLOR", "value": "00ff00"}}"#, port: stand.api.port)
        #expect(status == 200 && body == #"{"ok":true,"sent_to":1}"#)
        #expect(await eventually { lantern.state.color == LanternColor(red: 0, green: 255, blue: 0) })
        let (badStatus, badBody) = try await Self.post(#"{"method": "message", "params": {"command": "ON", "value": "1"}}"#, port: stand.api.port)
        #expect(badStatus == 400 && badBody == #"{"error":"ON takes no value","ok":false}"#)
        let (sameOrigin, _) = try await Self.post(#"{"method": "message", "params": {"command": "ON"}}"#, port: stand.web.port, path: "/api")
        #expect(sameOrigin == 200, "the page's own API path")
        #expect(await eventually { lantern.state.isOn })
        await lantern.close()
    }

    @Test("two browsers' live sockets get a snapshot at once and after every change, in sync")
    func liveSockets() async throws {
        let stand = try LanternStand(tlvPort: 0, apiPort: 0, webPort: 0)
        defer { stand.stop() }
        let first = try await WebSocketConnection.connect(host: "127.0.0.1", port: stand.web.port, path: "/live")
        let second = try await WebSocketConnection.connect(host: "127.0.0.1", port: stand.web.port, path: "/live")
        #expect(await first.receive() == .text(#"{"data":{"lanterns":[],"state":{"color":"ffffff","on":false}},"event":"lanterns"}"#))
        _ = await second.receive()
        let lantern = LanternClient(port: stand.control.port)
        for socket in [first, second] {
            guard case .text(let text)? = await socket.receive() else {
                Issue.record("no event for the lantern")
                continue
            }
            #expect(text.contains(#""lanterns":[{"address":"127.0.0.1:"#) && text.contains(#""id":1}"#), "\(text)")
        }
        stand.control.send(.color(LanternColor(red: 1, green: 2, blue: 3)))
        for socket in [first, second] {
            guard case .text(let text)? = await socket.receive() else {
                Issue.record("no event for the color")
                continue
            }
            #expect(text.contains(#""state":{"color":"010203","on":false}"#), "\(text)")
        }
        await lantern.close()
        _ = await first.close()
        _ = await second.close()
    }
}
