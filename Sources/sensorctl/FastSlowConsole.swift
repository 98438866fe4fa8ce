import FastSlow

/// The FastSlow client's command-line vocabulary: durations (`100ms`, `1s`, `2`) and the
/// commands a person types at `sensorctl fastslow client` (`fast`, `slow 2`,
/// `every 200ms fast`, `every 1s slow 2`, `stop`, `quit`).
enum FastSlowConsole {
    /// A typed command.
    enum Command: Equatable {
        case request(FastSlowRequest)
        case every(Duration, FastSlowRequest)
        case stop
        case quit
    }

    static let hint = "commands: fast | slow N | every 200ms fast | every 1s slow N | stop | quit"

    /// `100ms`, `1s`, `1.5s`; with `bareUnit`, a bare number counts in that unit.
    static func duration(_ text: String, bareUnit: Duration? = nil) -> Duration? {
        let (number, unit): (Substring, Duration?) =
            if text.hasSuffix("ms") { (text.dropLast(2), .milliseconds(1)) }
            else if text.hasSuffix("s") { (text.dropLast(), .seconds(1)) }
            else { (Substring(text), bareUnit) }
        guard let unit, let value = Double(number), value.isFinite, value >= 0 else { return nil }
        return unit * value
    }

    /// `fast`, `slow N` or `slow:N` (N whole seconds, 0...4294967295).
    static func request(_ words: [Substring]) -> FastSlowRequest? {
        switch words.count {
        case 1 where words[0] == "fast": return .fast
        case 1 where words[0].hasPrefix("slow:"): return UInt32(words[0].dropFirst(5)).map { .slow(seconds: $0) }
        case 2 where words[0] == "slow": return UInt32(words[1]).map { .slow(seconds: $0) }
        default: return nil
        }
    }

    /// A typed line: the command, or what is wrong with it.
    static func parse(_ line: String) -> Result<Command, ConsoleMistake> {
        let words = line.split(whereSeparator: \.isWhitespace)
        guard let first = words.first else { return .failure(ConsoleMistake(message: "empty line")) }
        switch first {
        case "quit", "exit": return words.count == 1 ? .success(.quit) : .failure(ConsoleMistake(message: "quit takes nothing"))
        case "stop": return words.count == 1 ? .success(.stop) : .failure(ConsoleMistake(message: "stop takes nothing"))
        case "every":
            guard words.count >= 3, let interval = duration(String(words[1])) else {
                return .failure(ConsoleMistake(message: "every needs an interval (200ms, 1s) and a request"))
            }
            guard FastSlowClient.Configuration.periodicIntervalRange.contains(interval) else {
                return .failure(ConsoleMistake(message: "the interval must be 10ms...1000ms"))
            }
            guard let request = request(Array(words[2...])) else { return .failure(ConsoleMistake(message: "unknown request \(words[2...].joined(separator: " "))")) }
            return .success(.every(interval, request))
        default:
            guard let request = request(words) else { return .failure(ConsoleMistake(message: "unknown command \"\(line)\"")) }
            return .success(.request(request))
        }
    }
}

/// What is wrong with a typed line.
struct ConsoleMistake: Error, Equatable {
    let message: String
}
