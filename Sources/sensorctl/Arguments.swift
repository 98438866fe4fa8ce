import Foundation

/// A command-line mistake: reported with the command's usage, exit code 2.
struct UsageError: Error {
    let message: String
}

/// Parsed arguments of one subcommand: `--name value` options, `--flag` flags, positionals.
struct Arguments {
    var positional: [String] = []
    var options: [String: String] = [:]
    var flags: Set<String> = []

    /// Parses `arguments` against the options (taking a value) and flags a command knows.
    init(_ arguments: [String], options known: Set<String>, flags knownFlags: Set<String>) throws(UsageError) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                positional += arguments[index...]
                break
            }
            // A negative number is a value, never an option (`metrics put cpu -1.5`).
            guard argument.hasPrefix("-"), argument.count > 1, Double(argument) == nil else {
                positional.append(argument)
                continue
            }
            var name = argument
            var inlineValue: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            if knownFlags.contains(name) && inlineValue == nil {
                flags.insert(name)
            } else if known.contains(name) {
                if let inlineValue {
                    options[name] = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError(message: "\(name) needs a value") }
                    options[name] = arguments[index]
                    index += 1
                }
            } else {
                throw UsageError(message: "unknown option \(name)")
            }
        }
    }

    func string(_ name: String, default value: String) -> String { options[name] ?? value }

    /// The app token for a hub that requires one: `--token`, else the environment variable
    /// `SENSORSTREAM_TOKEN` (kept out of the process list); nil when neither is set.
    var appToken: String? {
        if let token = options["--token"], !token.isEmpty { return token }
        guard let token = ProcessInfo.processInfo.environment["SENSORSTREAM_TOKEN"], !token.isEmpty else { return nil }
        return token
    }

    func int(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = options[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(message: "\(name) must be a whole number in \(range.lowerBound)...\(range.upperBound), not \"\(text)\"")
        }
        return number
    }

    /// An optional whole-number option: nil when it is not given.
    func optionalInt(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard options[name] != nil else { return nil }
        return try int(name, default: range.lowerBound, in: range)
    }

    func double(_ name: String, default value: Double, in range: ClosedRange<Double>) throws(UsageError) -> Double {
        guard let text = options[name] else { return value }
        guard let number = Double(text), range.contains(number) else {
            throw UsageError(message: "\(name) must be a number in \(range.lowerBound)...\(range.upperBound), not \"\(text)\"")
        }
        return number
    }

    /// The port option, validated like SensorClient validates String ports.
    func port(default value: Int) throws(UsageError) -> Int {
        guard let text = options["--port"] else { return value }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let port = Int(text), (0...65535).contains(port) else {
            throw UsageError(message: "--port must be 0...65535, not \"\(text)\"")
        }
        return port
    }
}

/// `90s`, `30m`, `12h`, `7d`: a whole, positive number of seconds, minutes, hours or days
/// (`--retention`, `--since`); nil for anything else.
func durationOption(_ text: String) -> Duration? {
    guard let unit = text.last, let count = Int64(text.dropLast()), count > 0, count <= 100_000 * 365 else { return nil }
    switch unit {
    case "s": return .seconds(count)
    case "m": return .seconds(count * 60)
    case "h": return .seconds(count * 3600)
    case "d": return .seconds(count * 86_400)
    default: return nil
    }
}
