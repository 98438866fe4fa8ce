import Foundation
import Testing
import TestSupport
@testable import SensorHub
@testable import SensorStream

@Suite("sensorctl hub: tokens from files, warnings, a public address", .timeLimit(.minutes(1)))
struct HubSecurityCLITests {
    static func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hub-tokens-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("a public address without tokens is refused (exit 1, what is missing); --insecure-open starts")
    func publicAddress() async throws {
        let refused = try await runSensorctl(["hub", "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("refusing to serve 0.0.0.0 without an agent token") && refused.error.contains("app tokens"), "\(refused.error)")
        let agentFile = try Self.file("agent-secret\n")
        let tokensFile = try Self.file("app-secret admin\n")
        defer { try? FileManager.default.removeItem(atPath: agentFile); try? FileManager.default.removeItem(atPath: tokensFile) }
        // With both it starts (positive control for the refusal), printing its address.
        let hub = try await ServerProcess.start(["hub", "--host", "127.0.0.1", "--port", "0", "--agent-token-file", agentFile, "--tokens", tokensFile])
        let anonymous = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled, reconnect: .disabled))
        await #expect { try await anonymous.connect() } throws: { "\($0)".contains("401") }
        let app = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled, token: "app-secret"))
        try await app.connect()
        #expect(try await app.sensors().isEmpty)
        await app.disconnect()
        hub.process.terminate()
        try await onThread { hub.process.waitUntilExit() }
        let log = String(decoding: hub.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("upgrade refused: 401"), "positive control: the refusal is logged")
        #expect(!log.contains("secret"), "no token in the log")
    }

    @Test("--agent-token and --app-token warn that the token shows in the process list; an open hub says it is open")
    func warnings() async throws {
        let hub = try await ServerProcess.start(["hub", "--port", "0", "--agent-token", "argv-token"])
        hub.process.terminate()
        try await onThread { hub.process.waitUntilExit() }
        let log = String(decoding: hub.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("--agent-token puts the token in the process list"), "\(log)")
        #expect(log.contains("no app token: any program that reaches the port"))
    }

    @Test("a tokens file with a bad line: exit 1, the line named, the token not")
    func badTokensFile() async throws {
        let path = try Self.file("good-one read\nleaky-token superuser\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await runSensorctl(["hub", "--port", "0", "--tokens", path])
        #expect(result.status == 1)
        #expect(result.error.contains("line 2") && result.error.contains("superuser"), "\(result.error)")
        #expect(!result.error.contains("leaky-token"))
    }
}
