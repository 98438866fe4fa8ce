import Foundation
import MetricStore

/// `sensorctl metrics serve|put|get`: the MetricStore server and a client from the shell.
enum MetricsCommand {
    static let usage = """
    usage: sensorctl metrics serve [--host 127.0.0.1] [--port 8888] [--data-file PATH] [--loops N] [--retention 7d]
           sensorctl metrics put KEY VALUE [TIMESTAMP] [--host H] [--port P]
           sensorctl metrics get KEY [--from SECONDS] [--to SECONDS] [--host H] [--port P] [--json]

    serve runs a metric store in the foreground (the put/get line protocol over TCP); with
    --data-file every acknowledged put is journaled to PATH (fsync before its ok) and replayed
    on start; --loops N spreads the connections over N event loop threads (default: one per
    core); --retention drops points older than that (a whole number of s, m, h or d: 90s,
    30m, 12h, 7d) at start, before the data file is compacted, then every minute; default
    keep everything. SIGINT/SIGTERM stop it.
    put stores VALUE (a finite decimal number; negative values work as is) for KEY at
    TIMESTAMP (unix seconds; default now). get prints KEY's points (or every key's, for '*')
    as a table, or with --json as {"key": [[timestamp, value], ...], ...}; with --from and/or
    --to (unix seconds, inclusive) only the points in that range (a range read: get KEY FROM TO).
    Exit codes: 0 ok, 1 server error or connection failure, 2 usage.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        guard let subcommand = arguments.first else { throw UsageError(message: "metrics needs serve, put or get") }
        let rest = Array(arguments.dropFirst())
        let parsed = try Arguments(rest, options: ["--host", "--port", "--data-file", "--loops", "--from", "--to", "--retention"], flags: ["--help", "-h", "--json"])
        if subcommand == "--help" || subcommand == "-h" || !parsed.flags.isDisjoint(with: ["--help", "-h"]) {
            printLine(usage)
            return 0
        }
        let host = parsed.string("--host", default: "127.0.0.1")
        let port = try parsed.port(default: 8888)
        switch subcommand {
        case "serve":
            guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
            var retention: Duration?
            if let text = parsed.options["--retention"] {
                guard let given = durationOption(text) else {
                    throw UsageError(message: "--retention must be a whole number of s, m, h or d (such as 7d), not \"\(text)\"")
                }
                retention = given
            }
            return await serve(host: host, port: port, dataFile: parsed.options["--data-file"],
                               loops: try parsed.optionalInt("--loops", in: 1...256), retention: retention)
        case "put":
            guard (2...3).contains(parsed.positional.count) else { throw UsageError(message: "put needs KEY VALUE [TIMESTAMP]") }
            let key = parsed.positional[0]
            guard let value = Double(parsed.positional[1]), value.isFinite,
                  parsed.positional[1].unicodeScalars.allSatisfy({ "0123456789+-.eE".unicodeScalars.contains($0) }) else {
                throw UsageError(message: "VALUE must be a finite decimal number, not \"\(parsed.positional[1])\"")
            }
            var timestamp: Int?
            if parsed.positional.count == 3 {
                guard let given = Int(parsed.positional[2]) else { throw UsageError(message: "TIMESTAMP must be whole unix seconds, not \"\(parsed.positional[2])\"") }
                timestamp = given
            }
            let client = MetricStoreClient(host: host, port: port, timeout: .seconds(15))
            defer { client.close() }
            do {
                try await client.put(key, value, timestamp: timestamp)
                printLine("ok")
                return 0
            } catch .invalidKey {
                throw UsageError(message: "KEY must be 1+ characters without whitespace, not \"\(key)\"")
            } catch {
                printError("sensorctl: \(error)")
                return 1
            }
        case "get":
            guard parsed.positional.count == 1 else { throw UsageError(message: "get needs one KEY (or '*')") }
            func seconds(_ option: String) throws(UsageError) -> Int? {
                guard let text = parsed.options[option] else { return nil }
                guard let value = Int(text) else { throw UsageError(message: "\(option) must be whole unix seconds, not \"\(text)\"") }
                return value
            }
            let (from, to) = (try seconds("--from"), try seconds("--to"))
            if let from, let to, from > to { throw UsageError(message: "--from \(from) is after --to \(to)") }
            let client = MetricStoreClient(host: host, port: port, timeout: .seconds(15))
            defer { client.close() }
            do {
                let points = from == nil && to == nil
                    ? try await client.get(parsed.positional[0])
                    : try await client.get(parsed.positional[0], from: from ?? Int(Int64.min), to: to ?? Int(Int64.max))
                printLine(parsed.flags.contains("--json") ? json(points) : table(points))
                return 0
            } catch .invalidKey(let key) {
                throw UsageError(message: "KEY must be 1+ characters without whitespace, not \"\(key)\"")
            } catch {
                printError("sensorctl: \(error)")
                return 1
            }
        default:
            throw UsageError(message: "unknown metrics command \"\(subcommand)\"")
        }
    }

    private static func serve(host: String, port: Int, dataFile: String?, loops: Int?, retention: Duration?) async -> Int32 {
        let server: MetricStoreServer
        let termination = TerminationLatch()
        do {
            server = try MetricStoreServer(host: host, port: port, configuration: .init(dataFile: dataFile, loops: loops, retention: retention))
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        for note in server.startupNotes { printError("sensorctl: \(note)") }
        printLine("metric store listening on \(host):\(server.port)" + (dataFile.map { ", journal \($0) (\(server.pointCount) points)" } ?? ""))
        termination.onRequest { server.stop() }
        await server.run()
        return 0
    }

    /// `{"key": [[timestamp, value], ...], ...}`, keys sorted.
    static func json(_ points: [String: [MetricPoint]]) -> String {
        let members = points.keys.sorted().map { key -> String in
            let encodedKey = (try? JSONEncoder().encode(key)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
            let pairs = points[key, default: []].map { "[\($0.timestamp), \($0.value.description)]" }.joined(separator: ", ")
            return "\(encodedKey): [\(pairs)]"
        }
        return "{" + members.joined(separator: ", ") + "}"
    }

    /// One row per point: key, timestamp, value.
    static func table(_ points: [String: [MetricPoint]]) -> String {
        guard !points.isEmpty else { return "(no points)" }
        let keyWidth = max(3, points.keys.map(\.count).max() ?? 0)
        var lines = ["key".padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  timestamp   value"]
        for key in points.keys.sorted() {
            for point in points[key, default: []] {
                lines.append(key.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  "
                             + String(point.timestamp).padding(toLength: 10, withPad: " ", startingAt: 0) + "  " + point.value.description)
            }
        }
        return lines.joined(separator: "\n")
    }
}
