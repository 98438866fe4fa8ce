import FastSlow
import Foundation
import Testing
import TestSupport

/// `sensorctl fastslow` as a user runs it: a server from a config file, the client periodic,
/// driven from standard input, and its mistakes.
@Suite("sensorctl fastslow as processes", .timeLimit(.minutes(2)))
struct FastSlowCLITests {
    static func folder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fastslow-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test("a server from a config file; the client's periodic mode stops after --count answers; the console reads commands")
    func serveAndClient() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("fastslow.conf")
        try "# test server\nport = 0\n\nlog_file = server.log  # beside this file\n".write(to: config, atomically: true, encoding: .utf8)
        let server = try await ServerProcess.start(["fastslow", "serve", "--config", config.path])
        let port = server.port
        defer { kill(server.process.processIdentifier, SIGTERM) }

        let periodic = try await runSensorctl(["fastslow", "client", "--port", String(port), "--every", "20ms", "--request", "fast", "--count", "3",
                                               "--reconnect-delay", "1s"])
        #expect(periodic.status == 0, "\(periodic.error)")
        let answers = periodic.output.split(separator: "\n").filter { $0.contains("response received: fast 2") }
        #expect(answers.count == 3, "\(periodic.output)")
        #expect(periodic.output.split(separator: "\n").allSatisfy { $0.wholeMatch(of: /\d\d:\d\d:\d\d\.\d{3} .+/) != nil }, "timestamps")

        let console = try await runSensorctl(["fastslow", "client", "--port", String(port)], input: "fast\nslow 0\nbogus\nslow\n")
        #expect(console.status == 0, "\(console.error)")
        #expect(console.output.contains("response received: fast 2"), "\(console.output)")
        #expect(console.output.contains("response received: slow 1 client"), "\(console.output)")
        #expect(console.output.contains("unknown command \"bogus\"; commands: fast | slow N"), "\(console.output)")
        #expect(console.output.contains("unknown command \"slow\""), "\(console.output)")

        let log = try String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)
        #expect(log.split(separator: "\n").filter { $0.contains(" connected 127.0.0.1:") }.count == 2, "\(log)")
    }

    static let usageCases: [(arguments: [String], message: String)] = [
        (["fastslow", "serve"], "serve needs --config PATH"),
        (["fastslow", "serve", "--config", "/nonexistent/fs.conf"], "/nonexistent/fs.conf: cannot read the config file"),
        (["fastslow", "client", "--every", "5ms"], "--every must be 10ms...1000ms"),
        (["fastslow", "client", "--every", "2s"], "--every must be 10ms...1000ms"),
        (["fastslow", "client", "--every", "100ms", "--request", "slow:x"], "--request must be fast or slow:N"),
        (["fastslow", "client", "--request", "fast"], "--request goes with --every"),
        (["fastslow", "client", "--reconnect-delay", "0.5"], "--reconnect-delay must be 1...10 seconds"),
        (["fastslow", "client", "--reconnect-delay", "11s"], "--reconnect-delay must be 1...10 seconds"),
        (["fastslow", "client", "--count", "0"], "--count must be"),
        (["fastslow", "bogus"], "unknown fastslow command"),
    ]

    @Test("mistakes exit 2 and say what is wrong", arguments: usageCases)
    func usage(arguments: [String], message: String) async throws {
        let result = try await runSensorctl(arguments)
        #expect(result.status == 2)
        #expect(result.error.contains(message), "\(result.error)")
    }

    @Test("a bad config file exits 2 naming the file, line and key")
    func badConfig() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("bad.conf")
        for (text, message) in [("port = 1\nspeed = 2\n", "bad.conf:2: unknown key `speed`"), ("port = x\n", "bad.conf:1: `port = x`: expected a port number"),
                                ("host = a\n", "bad.conf: `port` is required")] {
            try text.write(to: config, atomically: true, encoding: .utf8)
            let result = try await runSensorctl(["fastslow", "serve", "--config", config.path])
            #expect(result.status == 2)
            #expect(result.error.contains(message), "\(result.error)")
        }
    }
}
