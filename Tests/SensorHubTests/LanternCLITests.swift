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

    @Test("a bad port exits 2")
    func badPort() async throws {
        let result = try await runSensorctl(["lantern", "--port", "99999"])
        #expect(result.status == 2 && result.error.contains("--port must be"))
    }
}
