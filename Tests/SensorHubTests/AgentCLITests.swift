import Foundation
@testable import SensorHub
import Testing
import TestSupport

/// `sensorctl agent` as a user runs it: simulated devices in a file, registered with a hub; a
/// refused token ends it with exit 1.
@Suite("sensorctl agent as a process", .timeLimit(.minutes(1)))
struct AgentCLITests {
    @Test("--simulate fills the devices file and registers them; the file keeps them; a wrong token exits 1")
    func agentProcess() async throws {
        let hub = try Hub(agentToken: "s3")
        defer { Task { await hub.stop() } }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-cli-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = try sensorctlURL()
        process.arguments = ["agent", "--port", String(hub.port), "--simulate", "2", "--token", "s3", "--devices-file", path, "--id", "cli"]
        process.standardOutput = Pipe()
        // Never the test process's own stderr: a child that outlives a crashed test run would
        // hold `swift test`'s pipe open, and it would wait forever.
        process.standardError = FileHandle.nullDevice
        try process.run()
        #expect(await eventually { hub.isConnected("cli-t1") && hub.isConnected("cli-t2") })
        // sensorctl command and sensors against it.
        let answered = try await runSensorctl(["command", "cli-t1", "switch", #"{"on": true}"#, "--port", String(hub.port)])
        #expect(answered.status == 0 && answered.output == #"200 {"done":true}"# + "\n", "\(answered)")
        let missing = try await runSensorctl(["command", "nobody", "switch", "{}", "--port", String(hub.port)])
        #expect(missing.status == 1 && missing.output.hasPrefix("404 "), "\(missing)")
        let badJSON = try await runSensorctl(["command", "cli-t1", "switch", "{on}", "--port", String(hub.port)])
        #expect(badJSON.status == 2 && badJSON.error.contains("not JSON"))
        let listed = try await runSensorctl(["sensors", "--port", String(hub.port), "--json"])
        #expect(listed.status == 0 && listed.output.contains(#"{"connected":true,"name":"Thermometer 1","sensor_id":"cli-t1","tags":{"simulated":"true"},"type":"thermometer"}"#), "\(listed)")
        let table = try await runSensorctl(["sensors", "--port", String(hub.port)])
        #expect(table.output.contains("cli-t2") && table.output.contains("simulated=true"))
        kill(process.processIdentifier, SIGTERM)
        try await onThread { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        #expect(await eventually { !hub.isConnected("cli-t1") })
        let file = try String(contentsOfFile: path, encoding: .utf8)
        #expect(file.contains(#""id":"cli-t1""#) && file.contains(#""id":"cli-t2""#))
        let refused = try await runSensorctl(["agent", "--port", String(hub.port), "--token", "wrong", "--devices-file", path, "--id", "cli"])
        #expect(refused.status == 1 && refused.error.contains("refused"), "\(refused.error)")
    }
}
