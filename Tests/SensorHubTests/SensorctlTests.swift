import Foundation
import Locking
import MetricStore
import SensorWire
import Testing
import TestSupport
@testable import SensorHub
@testable import SensorStream

/// The built `sensorctl`, next to the test bundle.
func sensorctlURL() throws -> URL {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
    let url = directory.appendingPathComponent("sensorctl")
    guard FileManager.default.isExecutableFile(atPath: url.path) else {
        throw RawPeerError(description: "sensorctl is not built at \(url.path): run `swift build` first")
    }
    return url
}

/// A sensorctl server process started on a port the system picked (`--port 0` or a config
/// file's `port = 0`): the port is read from the line it prints when it listens, so no other
/// test can take the port between a probe and the start (as happened under load).
struct ServerProcess: Sendable {
    let process: Process
    let port: Int
    /// Its standard error (read it after it exits).
    let errors: Pipe

    /// Starts `sensorctl arguments` and waits (at most 30 s) for a line with `listening on`
    /// and the address; the rest of its output is drained in the background.
    static func start(_ arguments: [String]) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = try sensorctlURL()
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = output.fileHandleForReading
        let port = try await onThread { () -> Int? in
            var text = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let data = reader.availableData
                if data.isEmpty { return nil }
                text += String(decoding: data, as: UTF8.self)
                for line in text.split(separator: "\n") where line.contains("listening on") {
                    if let match = line.firstMatch(of: /127\.0\.0\.1:(\d+)/), let port = Int(match.1) { return port }
                }
            }
            return nil
        }
        guard let port else {
            process.terminate()
            throw RawPeerError(description: "sensorctl \(arguments.joined(separator: " ")) printed no listening address")
        }
        Thread { while !reader.availableData.isEmpty {} }.start()
        return ServerProcess(process: process, port: port, errors: errors)
    }
}

struct ProcessResult: Sendable {
    var status: Int32
    var output: String
    var error: String
}

/// Runs sensorctl with `arguments` to completion (at most `timeout`); `input` (if any) is its
/// standard input, closed after.
func runSensorctl(_ arguments: [String], input: String? = nil, timeout: Duration = .seconds(60)) async throws -> ProcessResult {
    let url = try sensorctlURL()
    return try await onThread {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let inputPipe = Pipe()
        if input != nil { process.standardInput = inputPipe }
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try inputPipe.fileHandleForWriting.close()
        }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus,
                             output: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                             error: String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
}

@Suite("sensorctl as a process", .timeLimit(.minutes(2)))
struct SensorctlTests {
    @Test("argument mistakes exit with 2 and say what is wrong", arguments: [
        ([], "usage: sensorctl"),
        (["bogus"], "unknown command"),
        (["status"], "at least one sensor id"),
        (["watch", "X", "--port", "abc"], "--port must be"),
        (["demo", "--duration", "0"], "--duration must be"),
        (["hub", "--nope"], "unknown option --nope"),
        (["status", String(repeating: "x", count: 41)], "invalid sensor id"),
        (["status", "S1", "--timeout", "soon"], "--timeout must be"),
    ] as [([String], String)])
    func badArguments(arguments: [String], message: String) async throws {
        let result = try await runSensorctl(arguments)
        #expect(result.status == 2)
        #expect(result.error.contains(message), "\(result.error)")
    }

    @Test("--help exits 0 for every command")
    func help() async throws {
        for command in ["demo", "hub", "watch", "status"] {
            let result = try await runSensorctl([command, "--help"])
            #expect(result.status == 0 && result.output.contains("usage: sensorctl \(command)"))
        }
    }

    @Test("status: exit 0 when every sensor is connected, 1 otherwise")
    func status() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        _ = hub.attachAgent(name: "a", sensors: ["S1", "S2"])
        // A generous answer timeout: under a sanitizer the hub in this process answers slowly.
        let good = try await runSensorctl(["status", "S1", "S2", "--host", "127.0.0.1", "--port", String(hub.port), "--timeout", "30"])
        #expect(good.status == 0, "\(good)")
        #expect(good.output == "S1  connected\nS2  connected\n")
        let bad = try await runSensorctl(["status", "S1", "NOPE", "--host", "127.0.0.1", "--port", String(hub.port), "--timeout", "30"])
        #expect(bad.status == 1)
        #expect(bad.output.contains("NOPE  not connected"))
        let down = try await runSensorctl(["status", "S1", "--host", "127.0.0.1", "--port", "1"])
        #expect(down.status == 1 && down.error.contains("connection failed"))
    }

    @Test("hub: serves clients; SIGTERM sends close frames (1001) to everyone and exits 0")
    func hubShutdown() async throws {
        let server = try await ServerProcess.start(["hub", "--port", "0", "--simulate-agents", "1", "--sensors-per-agent", "2", "--rate", "20"])
        let process = server.process, port = server.port, log = server.errors
        let client = SensorClient(host: "127.0.0.1", port: port, configuration: .init(heartbeat: .disabled, reconnect: .disabled))
        #expect(await eventually(timeout: .seconds(30)) { (try? await client.connect()) != nil })
        let readings = Task { await collectReadings(client.readings("A01-S2"), count: 3) }
        #expect(await readings.value.count == 3, "simulated readings arrive")
        let states = client.connectionStates
        kill(process.processIdentifier, SIGTERM)
        let status = try await onThread { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 0)
        var reason: DisconnectReason?
        for await state in states {
            if case .disconnected(let why) = state { reason = why }
        }
        #expect(reason?.message.contains("close 1001") == true, "\(String(describing: reason))")
        let lines = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        #expect(lines.contains { $0.contains("hub listening on ws://127.0.0.1:\(port)") })
        #expect(lines.contains { $0.contains("app #") && $0.contains("connected from 127.0.0.1") })
        #expect(lines.last?.hasSuffix("stopped") == true)
        #expect(lines.allSatisfy { $0.first?.isNumber == true }, "every log line starts with a timestamp")
    }

    @Test("watch --json prints one JSON object per reading until SIGINT, then exits 0")
    func watchJSON() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let agent = hub.attachAgent(name: "a", sensors: ["S1"])
        let url = try sensorctlURL()
        let process = Process()
        process.executableURL = url
        process.arguments = ["watch", "S1", "--json", "--host", "127.0.0.1", "--port", String(hub.port)]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        #expect(await eventually(timeout: .seconds(30)) { hub.subscriberCount("S1") == 1 })
        for index in 0..<3 { agent.publish("S1", ["seq": .number(Double(index))]) }
        let lines = try await onThread { () -> [String] in
            var text = ""
            let handle = output.fileHandleForReading
            let deadline = ContinuousClock.now + .seconds(10)
            while text.split(separator: "\n").count < 3 && ContinuousClock.now < deadline {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text.split(separator: "\n").map(String.init)
        }
        kill(process.processIdentifier, SIGINT)
        let status = try await onThread { () -> Int32 in
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(status == 0)
        let objects = lines.compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        #expect(objects.count == 3)
        #expect(objects.map { $0["sensor_id"] } == ["S1", "S1", "S1"])
        #expect(objects.map { $0["readings"]?["seq"]?.intValue } == [0, 1, 2])
    }
}

/// `sensorctl history` against a hub that records into MetricStore (both in this process).
@Suite("sensorctl history as a process", .timeLimit(.minutes(2)))
struct HistoryCLITests {
    @Test("table, JSON (downsampled) and chart of what the hub recorded in the last minutes")
    func formats() async throws {
        let store = try MetricStoreServer(port: 0)
        defer { store.stop() }
        let recorder = HistoryRecorder(host: "127.0.0.1", port: store.port)
        let hub = try Hub(port: 0, history: recorder)
        let agent = hub.attachAgent(name: "a", sensors: ["S1"])
        let now = Int(Date().timeIntervalSince1970)
        for index in 0..<10 {
            agent.publish("S1", ["temperature": .number(20 + Double(index)), "humidity": 50, "ts": .number(Double(now - 60 + index) * 1000)])
        }
        #expect(await eventually(timeout: .seconds(30)) { recorder.counts.stored == 20 }, "\(recorder.counts)")
        let port = ["--host", "127.0.0.1", "--port", String(hub.port)]

        let table = try await runSensorctl(["history", "S1", "--since", "5m", "--table"] + port)
        #expect(table.status == 0, "\(table.error)")
        let lines = table.output.split(separator: "\n")
        #expect(lines.first?.split(separator: " ") == ["TIME", "humidity", "temperature"])
        #expect(lines.count == 11 && lines.last?.split(separator: " ").suffix(2) == ["50", "29"], "\(table.output)")

        let json = try await runSensorctl(["history", "S1", "temperature", "--since", "5m", "--json", "--points", "1"] + port)
        #expect(json.status == 0, "\(json.error)")
        let answer = try #require(try? JSONParser.parse(json.output))
        let bucket = try #require(answer["series"]?["temperature"]?[0]?.arrayValue)
        #expect(bucket.dropFirst().map(\.doubleValue) == [24.5, 20, 29, 10], "one bucket: average, min, max, count of the ten")

        let chart = try await runSensorctl(["history", "S1", "temperature", "--since", "5m", "--chart", "--points", "30"] + port)
        #expect(chart.status == 0, "\(chart.error)")
        let chartLines = chart.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(chartLines.count == 1 + HistoryChartShape.rows + 2, "\(chart.output)")
        #expect(chartLines.first?.hasPrefix("S1 temperature  (last 29, 10 points)") == true)
        #expect(chartLines.dropFirst().first?.hasPrefix("29 │") == true && chartLines.dropFirst(HistoryChartShape.rows).first?.hasPrefix("20 │") == true)
        #expect(chart.output.contains("█"))
        await hub.stop()
    }

    @Test("history: usage mistakes exit 2 and say what is wrong; an unreachable hub exits 1", arguments: [
        (["history"], "needs a sensor id", 2),
        (["history", "S1", "t", "extra"], "unexpected argument", 2),
        (["history", "S1", "--since", "5x"], "--since must be", 2),
        (["history", "S1", "--json", "--chart"], "choose one", 2),
        (["history", "S1", "--points", "0"], "--points must be", 2),
        (["history", "S1", "a b", "--port", "1"], "field must be", 2),
        (["history", "S1", "--port", "1"], "connection failed", 1),
    ] as [([String], String, Int32)])
    func mistakes(arguments: [String], message: String, status: Int32) async throws {
        let result = try await runSensorctl(arguments)
        #expect(result.status == status)
        #expect(result.error.contains(message), "\(result.error)")
    }
}

/// The chart's shape as `sensorctl history --chart` draws it.
enum HistoryChartShape {
    /// Rows of bars.
    static let rows = 8
}
