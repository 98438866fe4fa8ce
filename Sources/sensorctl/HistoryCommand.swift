import Foundation
import SensorStream

/// `sensorctl history`: a sensor's recorded readings, read through a hub's `sensor_history`.
enum HistoryCommand {
    static let usage = """
    usage: sensorctl history SENSOR [FIELD] [--since 1h] [--points N] [--chart | --table | --json]
                             [--host HOST] [--port PORT] [--token TOKEN]

    Prints what a hub started with --history recorded for SENSOR (every field the hub knows for
    it, or FIELD) over the last --since (90s, 30m, 12h, 7d; default 1h): a chart per field when
    standard output is a terminal, else a table (time, then each field); --chart and --table
    choose, --json prints the hub's answer. --points N asks for N points per field at most (the
    hub averages buckets of equal length beyond; default 60, the chart's width on a terminal;
    with --json the hub's default). The hub defaults to localhost:5192; a hub that requires an
    app token gets --token, or SENSORSTREAM_TOKEN from the environment.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--token", "--since", "--points"],
                                   flags: ["--help", "-h", "--json", "--chart", "--table"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard let sensorID = parsed.positional.first else { throw UsageError(message: "history needs a sensor id") }
        guard parsed.positional.count <= 2 else { throw UsageError(message: "unexpected argument \(parsed.positional[2])") }
        let field = parsed.positional.count == 2 ? parsed.positional[1] : nil
        if let field, field.isEmpty || field.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            throw UsageError(message: "field must be a field name without whitespace or control characters")
        }
        let formats = parsed.flags.intersection(["--json", "--chart", "--table"])
        guard formats.count <= 1 else { throw UsageError(message: "choose one of --json, --chart and --table") }
        let sinceText = parsed.string("--since", default: "1h")
        guard let since = durationOption(sinceText) else {
            throw UsageError(message: "--since must be a number with s, m, h or d (90s, 30m, 12h, 7d), not \"\(sinceText)\"")
        }
        let chart = formats.contains("--chart") || (formats.isEmpty && isatty(STDOUT_FILENO) == 1)
        let defaultPoints = chart ? HistoryChart.width(forTerminalColumns: terminalColumns()) : 60
        let points = formats.contains("--json") ? try parsed.optionalInt("--points", in: 1...10_000)
            : try parsed.int("--points", default: defaultPoints, in: 1...10_000)
        let client = SensorClient(host: parsed.string("--host", default: "localhost"), port: try parsed.port(default: 5192),
                                  configuration: .init(reconnect: .disabled, token: parsed.appToken))
        defer { Task { await client.disconnect() } }
        let now = Int(Date().timeIntervalSince1970)
        let history: SensorHistory
        do {
            try await client.connect()
            history = try await client.history(sensorID, field: field, from: now - Int(since.components.seconds) + 1, to: now,
                                               maxPoints: points)
        } catch .invalidSensorID(let id) {
            throw UsageError(message: SensorClientError.invalidSensorID(id).description)
        } catch .invalidArgument(let what) {
            throw UsageError(message: what)
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        if formats.contains("--json") {
            printLine(json(history))
        } else if chart {
            if history.series.isEmpty { printLine("no history for \(sensorID) in the last \(sinceText)") }
            for name in history.series.keys.sorted() {
                printLine(HistoryChart.render(title: "\(sensorID) \(name)", points: history.series[name] ?? [],
                                              from: history.from, to: history.to, width: points ?? defaultPoints))
            }
        } else {
            printLine(table(history))
        }
        return 0
    }

    /// The answer as JSON: `{"sensor_id", "from", "to", "series": {field: [[time, avg, min, max, count]]}}`.
    static func json(_ history: SensorHistory) -> String {
        let series = history.series.mapValues { points in
            JSONValue.array(points.map { [.number(Double($0.time)), .number($0.average), .number($0.minimum), .number($0.maximum),
                                          .number(Double($0.count))] })
        }
        return JSONSerializer.serialize(["sensor_id": .string(history.sensorID), "from": .number(Double(history.from)),
                                         "to": .number(Double(history.to)), "series": .object(series)])
    }

    /// A table: the time (local), then each field's value (a bucket's average), one row per
    /// second that has a point.
    static func table(_ history: SensorHistory) -> String {
        let fields = history.series.keys.sorted()
        var rows: [Int: [String: Double]] = [:]
        for field in fields {
            for point in history.series[field] ?? [] { rows[point.time, default: [:]][field] = point.average }
        }
        let widths = fields.map { max(10, $0.count) }
        var lines = [padded("TIME", 19) + zip(fields, widths).map { "  " + leftPadded($0.0.isEmpty ? "VALUE" : $0.0, $0.1) }.joined()]
        for time in rows.keys.sorted() {
            let values = zip(fields, widths).map { field, width in
                "  " + leftPadded(rows[time]?[field].map(HistoryChart.label) ?? "", width)
            }
            lines.append(HistoryChart.dateTime(time) + values.joined())
        }
        if rows.isEmpty { lines.append("(no points)") }
        return lines.joined(separator: "\n")
    }

    private static func leftPadded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    /// The terminal's width in columns (80 when it cannot be told).
    private static func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
