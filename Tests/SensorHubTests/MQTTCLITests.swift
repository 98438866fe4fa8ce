import Testing
import TestSupport

/// `sensorctl mqtt sub|pub` as a user runs them, against Debian's mosquitto.
@Suite("sensorctl mqtt as processes", .timeLimit(.minutes(2)))
struct MQTTCLITests {
    @Test("pub a retained message, then sub prints it with its topic; a payload that is not plain text prints as hex", .enabled(if: Mosquitto.shouldRun, "mosquitto is not installed"))
    func publishAndSubscribe() async throws {
        let broker = try await Mosquitto()
        defer { broker.stop() }
        let port = String(broker.port)
        let published = try await runSensorctl(["mqtt", "pub", "cli/state", "kept", "--retain", "--qos", "1", "--port", port])
        #expect(published.status == 0, "\(published.error)")
        let first = try await runSensorctl(["mqtt", "sub", "cli/#", "--count", "1", "--qos", "2", "--port", port])
        #expect(first.status == 0, "\(first.error)")
        #expect(first.output == "cli/state (retained) kept\n")
        let binary = try await runSensorctl(["mqtt", "pub", "cli/state", "x\u{1}y", "--retain", "--port", port])
        #expect(binary.status == 0)
        let second = try await runSensorctl(["mqtt", "sub", "cli/+", "--count", "1", "--port", port])
        #expect(second.output == "cli/state (retained) 0x780179\n")
    }

    static let exitCases: [(arguments: [String], status: Int32)] = [
        (["mqtt"], 2), (["mqtt", "--help"], 0), (["mqtt", "frobnicate"], 2),
        (["mqtt", "pub", "a/#", "x"], 2), (["mqtt", "pub", "a"], 2), (["mqtt", "sub", "a/#/b"], 2), (["mqtt", "sub"], 2),
        (["mqtt", "sub", "a", "--qos", "3"], 2), (["mqtt", "pub", "a", "x", "--port", "1"], 1), (["mqtt", "sub", "a", "--port", "1"], 1),
    ]

    @Test("exit codes: 0 ok, 1 broker unreachable, 2 usage", arguments: exitCases)
    func exitCodes(arguments: [String], status: Int32) async throws {
        let result = try await runSensorctl(arguments)
        #expect(result.status == status, "\(arguments): \(result.error)")
    }
}
