import Foundation
import Lantern
import Testing
import TestSupport

/// `sensorctl lantern` as a user runs it, with its output not a terminal: log lines; Ctrl-C
/// (SIGINT) closes cleanly and exits 0.
@Suite("sensorctl lantern as a process", .timeLimit(.minutes(1)))
struct LanternCLITests {
    @Test("the lantern logs its states and connection; SIGINT closes it cleanly with exit 0")
    func lanternProcess() async throws {
        let server = try LanternControlServer(port: 0)
        defer { server.stop() }
        let process = Process()
        process.executableURL = try sensorctlURL()
        process.arguments = ["lantern", "--port", String(server.port)]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        // Never the test process's own stderr (a child outliving a crashed run would hold
        // `swift test`'s pipe open).
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(await eventually { server.lanterns.count == 1 })
        server.send(.color(LanternColor(red: 255, green: 0, blue: 0)))
        server.send(.on)
        // Read what it prints until it shows the lantern on and red.
        let shown = try await onThread { () -> String in
            var text = ""
            let deadline = ContinuousClock.now + .seconds(20)
            while !text.contains("lantern on #ff0000"), ContinuousClock.now < deadline {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        kill(process.processIdentifier, SIGINT)
        try await onThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        #expect(await eventually { server.lanterns.isEmpty }, "the stand saw it go")
        let text = shown + String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("lantern on #ff0000"), "\(text)")
        #expect(text.contains("connection connected (127.0.0.1:\(server.port))"), "\(text)")
        #expect(!text.contains("\u{1B}["), "no escape sequences when the output is not a terminal")
    }

    @Test("on a terminal (a pty from util-linux `script`): it asks for host:port and draws the lantern in true color, redrawn in place")
    func terminal() async throws {
        let server = try LanternControlServer(port: 0)
        defer { server.stop() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qfec", "\(try sensorctlURL().path) lantern", "/dev/null"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        let reader = output.fileHandleForReading
        func read(until marker: String) async throws -> String {
            try await onThread {
                var text = ""
                let deadline = ContinuousClock.now + .seconds(20)
                while !text.contains(marker), ContinuousClock.now < deadline {
                    let data = reader.availableData
                    if data.isEmpty { break }
                    text += String(decoding: data, as: UTF8.self)
                }
                return text
            }
        }
        #expect(try await read(until: "host:port [127.0.0.1:9999]: ").contains("host:port [127.0.0.1:9999]: "))
        input.fileHandleForWriting.write(Data("127.0.0.1:\(server.port)\n".utf8))
        let connected = try await read(until: "connected · 127.0.0.1:\(server.port)")
        #expect(connected.contains("\u{1B}[48;2;28;28;28m"), "dark when off")
        server.send(.color(LanternColor(red: 255, green: 0, blue: 0)))
        server.send(.on)
        let lit = try await read(until: "lantern on #ff0000")
        #expect(lit.contains("\u{1B}[48;2;255;0;0m"), "a red block when on")
        #expect(lit.contains("\u{1B}[6A"), "redrawn in place: back up over the 6 lines drawn")
    }

    @Test("a bad port exits 2")
    func badPort() async throws {
        let result = try await runSensorctl(["lantern", "--port", "99999"])
        #expect(result.status == 2 && result.error.contains("--port must be"))
    }
}
