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

    @Test("a public address without tokens is refused (exit 1, what is missing); with both tokens from files the hub starts and enforces them")
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
        let open = try await ServerProcess.start(["hub", "--port", "0", "--agent-token", "argv-token"])
        open.process.terminate()
        try await onThread { open.process.waitUntilExit() }
        let openLog = String(decoding: open.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(openLog.contains("--agent-token puts the token in the process list"), "\(openLog)")
        #expect(openLog.contains("no app token: any program that reaches the port"))
        #expect(openLog.contains("1 token is shorter than 16 characters"))
        let closed = try await ServerProcess.start(["hub", "--port", "0", "--agent-token", "argv-agent-token-long-enough",
                                                    "--app-token", "argv-app-token-long-enough"])
        closed.process.terminate()
        try await onThread { closed.process.waitUntilExit() }
        let closedLog = String(decoding: closed.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(closedLog.contains("--app-token puts the token in the process list"), "\(closedLog)")
        #expect(!closedLog.contains("no app token") && !closedLog.contains("shorter than 16"), "positive control for both warnings")
    }

    @Test("usage errors: app tokens without an agent token, an empty token, an origin with a path")
    func usage() async throws {
        let tokens = try Self.file("a-long-enough-app-token read\n")
        defer { try? FileManager.default.removeItem(atPath: tokens) }
        for (arguments, message) in [(["--tokens", tokens], "app tokens need an agent token too"),
                                     (["--agent-token", ""], "--agent-token is empty"),
                                     (["--allowed-origin", "https://console.example/admin"], "--allowed-origin takes scheme://host[:port]")] {
            let result = try await runSensorctl(["hub", "--port", "0"] + arguments)
            #expect(result.status == 2 && result.error.contains(message), "\(arguments): \(result.error)")
        }
    }

    @Test("a tokens file with a bad line: exit 1, the line named, the token not")
    func badTokensFile() async throws {
        // The second line is written the wrong way round: the token sits where the right goes.
        let path = try Self.file("good-one read\nadmin leaky-token\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try await runSensorctl(["hub", "--port", "0", "--tokens", path, "--agent-token-file", path])
        #expect(result.status == 1)
        #expect(result.error.contains("line 2") && result.error.contains("not a right"), "\(result.error)")
        #expect(!result.error.contains("leaky-token"))
    }
}
