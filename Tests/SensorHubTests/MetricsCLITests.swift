import Foundation
import MetricStore
import Testing
import TestSupport

/// `sensorctl metrics` as a user runs it: a server process, kill -9, restart from its data file.
@Suite("sensorctl metrics as processes", .timeLimit(.minutes(2)))
struct MetricsCLITests {
    /// Starts `sensorctl metrics serve` on a free port with `dataFile`; returns the process and port.
    static func startServer(dataFile: String) async throws -> (Process, Int) {
        let server = try await ServerProcess.start(["metrics", "serve", "--port", "0", "--data-file", dataFile])
        #expect((try? await runSensorctl(["metrics", "get", "*", "--port", String(server.port)]).status) == 0, "the server answers")
        return (server.process, server.port)
    }

    @Test("acknowledged puts survive kill -9 of the server; the CLI reads them back as JSON")
    func killNine() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).journal").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (server, port) = try await Self.startServer(dataFile: path)
        let client = MetricStoreClient(host: "127.0.0.1", port: port, timeout: .seconds(15))
        let count = 300
        for index in 0..<count { try await client.put("load", Double(index), timestamp: index) }
        client.close()
        // Every put above was acknowledged: kill -9 now, no chance to flush anything.
        kill(server.processIdentifier, SIGKILL)
        _ = try await onThread { server.waitUntilExit() }
        #expect(server.terminationReason == .uncaughtSignal)

        // Restarted on a port of its own: the data file is what carries the puts over.
        let (restarted, restartedPort) = try await Self.startServer(dataFile: path)
        defer { kill(restarted.processIdentifier, SIGTERM) }
        let reader = MetricStoreClient(host: "127.0.0.1", port: restartedPort, timeout: .seconds(15))
        let points = try await reader.get("load")["load"] ?? []
        reader.close()
        #expect(points.count == count)
        #expect(points.map(\.timestamp) == Array(0..<count) && points.last?.value == Double(count - 1))

        let put = try await runSensorctl(["metrics", "put", "cpu", "-1.5", "1150864247", "--port", String(restartedPort)])
        #expect(put.status == 0, "a negative value is a value: \(put.error)")
        let json = try await runSensorctl(["metrics", "get", "cpu", "--port", String(restartedPort), "--json"])
        #expect(json.status == 0)
        #expect(json.output == "{\"cpu\": [[1150864247, -1.5]]}\n")
        let table = try await runSensorctl(["metrics", "get", "cpu", "--port", String(restartedPort)])
        #expect(table.output.contains("cpu") && table.output.contains("1150864247") && table.output.contains("-1.5"))

        // A range read: --from and --to, inclusive, either one alone.
        let range = try await runSensorctl(["metrics", "get", "load", "--from", "10", "--to", "12", "--port", String(restartedPort), "--json"])
        #expect(range.status == 0 && range.output == "{\"load\": [[10, 10.0], [11, 11.0], [12, 12.0]]}\n", "\(range.output)")
        let tail = try await runSensorctl(["metrics", "get", "load", "--from", "298", "--port", String(restartedPort), "--json"])
        #expect(tail.output == "{\"load\": [[298, 298.0], [299, 299.0]]}\n", "\(tail.output)")
    }

    static let exitCases: [(arguments: [String], status: Int32)] = [
        (["metrics", "put", "cpu", "nan"], 2), (["metrics", "put", "cpu", "0x10"], 2), (["metrics", "put", "cpu"], 2),
        (["metrics", "put", "a b", "1"], 2), (["metrics", "get"], 2), (["metrics", "frobnicate"], 2), (["metrics"], 2),
        (["metrics", "put", "cpu", "1", "--port", "1"], 1), (["metrics", "--help"], 0),
        (["metrics", "get", "cpu", "--from", "5", "--to", "4"], 2), (["metrics", "get", "cpu", "--from", "x"], 2),
        (["metrics", "serve", "--retention", "7x"], 2), (["metrics", "serve", "--retention", "0d"], 2), (["metrics", "serve", "--retention", "d"], 2),
    ]

    @Test("metrics usage mistakes exit 2; a connection failure exits 1; --help exits 0")
    func exitCodes() async throws {
        for (arguments, status) in Self.exitCases {
            #expect(try await runSensorctl(arguments).status == status, "\(arguments)")
        }
    }
}
