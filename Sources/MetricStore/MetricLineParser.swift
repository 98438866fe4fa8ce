/// The server's sans-I/O reader of the command stream: bytes in (split anywhere, or many
/// commands in one read), one parsed line out per `\n`, in order.
///
/// A line longer than ``maxLineLength`` bytes (newline excluded) is reported as
/// ``Line/tooLong`` as soon as it passes the limit, and the parser stops: the server answers
/// `wrong command` and closes the connection.
public struct MetricLineParser: Sendable {
    /// What one line was.
    public enum Line: Sendable, Hashable {
        /// A well-formed command.
        case command(MetricCommand)
        /// Anything else: unknown command, wrong field count, bad number or timestamp, empty
        /// line, `*` as a put key, invalid UTF-8. Answered with `error\nwrong command\n\n`; the
        /// connection stays.
        case wrong
        /// The line passed ``maxLineLength`` before its newline: answered like `wrong`, then closed.
        case tooLong
    }

    /// The longest line accepted, newline excluded.
    public let maxLineLength: Int
    private var pending: [UInt8] = []
    private var stopped = false

    /// A parser accepting lines up to `maxLineLength` bytes.
    /// - Parameter maxLineLength: The limit, newline excluded (the protocol's is 65,536).
    public init(maxLineLength: Int = 65_536) {
        self.maxLineLength = maxLineLength
    }

    /// Whether a too-long line stopped the parser.
    public var isStopped: Bool { stopped }

    /// Parses what `input` completes, appending one ``Line`` per line, in order.
    /// - Parameters:
    ///   - input: The bytes just read.
    ///   - lines: Where the parsed lines go.
    public mutating func parse(_ input: UnsafeRawBufferPointer, into lines: inout [Line]) {
        guard !stopped else { return }
        var start = 0
        while start < input.count {
            guard let newline = input[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                pending.append(contentsOf: input[start...])
                if pending.count > maxLineLength {
                    stop(&lines)
                }
                return
            }
            let length = pending.count + (newline - start)
            if length > maxLineLength {
                stop(&lines)
                return
            }
            if pending.isEmpty {
                lines.append(Self.parseLine(UnsafeRawBufferPointer(rebasing: input[start..<newline])))
            } else {
                pending.append(contentsOf: input[start..<newline])
                lines.append(pending.withUnsafeBytes { Self.parseLine($0) })
                pending.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
    }

    /// Convenience for tests and tools: parses a byte array.
    /// - Parameter bytes: The bytes just read.
    /// - Returns: The lines they complete.
    public mutating func parse(_ bytes: [UInt8]) -> [Line] {
        var lines: [Line] = []
        bytes.withUnsafeBytes { parse($0, into: &lines) }
        return lines
    }

    private mutating func stop(_ lines: inout [Line]) {
        stopped = true
        pending = []
        lines.append(.tooLong)
    }

    /// Parses one line without its `\\n` (a trailing `\\r` and blanks around fields are tolerated).
    /// - Parameter line: The line's bytes.
    /// - Returns: The command, or ``Line/wrong``.
    public static func parseLine(_ line: UnsafeRawBufferPointer) -> Line {
        // At most four fields, as ranges into the line: no array per line.
        var ranges: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        var fieldCount = 0
        var index = 0
        var end = line.count
        if end > 0 && line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        while index < end {
            while index < end && isBlank(line[index]) { index += 1 }
            guard index < end else { break }
            let fieldStart = index
            while index < end && !isBlank(line[index]) { index += 1 }
            switch fieldCount {
            case 0: ranges.0 = fieldStart..<index
            case 1: ranges.1 = fieldStart..<index
            case 2: ranges.2 = fieldStart..<index
            case 3: ranges.3 = fieldStart..<index
            default: return .wrong
            }
            fieldCount += 1
        }
        func field(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: line[range]) }
        guard fieldCount > 0 else { return .wrong }
        let verb = field(ranges.0)
        if fieldCount == 4, equals(verb, "put") {
            guard let key = text(field(ranges.1)), key != "*",
                  let value = parseValue(field(ranges.2)),
                  let timestamp = parseTimestamp(field(ranges.3)) else { return .wrong }
            return .command(.put(key: key, value: value, timestamp: timestamp))
        }
        if fieldCount == 2, equals(verb, "get") {
            guard let key = text(field(ranges.1)) else { return .wrong }
            return .command(.get(key: key))
        }
        if fieldCount == 4, equals(verb, "get") {
            guard let key = text(field(ranges.1)),
                  let from = parseTimestamp(field(ranges.2)),
                  let to = parseTimestamp(field(ranges.3)) else { return .wrong }
            return .command(.getRange(key: key, from: from, to: to))
        }
        return .wrong
    }

    /// A finite decimal number: optional sign, digits with an optional fraction (`5`, `.5`,
    /// `5.`), an optional exponent (`e3`, `E-3`). Not `nan`, `inf` or hex.
    /// - Parameter field: The field's bytes.
    /// - Returns: The value, or nil.
    public static func parseValue(_ field: UnsafeRawBufferPointer) -> Double? {
        var index = 0
        let count = field.count
        if index < count && (field[index] == UInt8(ascii: "+") || field[index] == UInt8(ascii: "-")) { index += 1 }
        var digits = 0
        while index < count && isDigit(field[index]) { index += 1; digits += 1 }
        if index < count && field[index] == UInt8(ascii: ".") {
            index += 1
            while index < count && isDigit(field[index]) { index += 1; digits += 1 }
        }
        guard digits > 0 else { return nil }
        if index < count && (field[index] == UInt8(ascii: "e") || field[index] == UInt8(ascii: "E")) {
            index += 1
            if index < count && (field[index] == UInt8(ascii: "+") || field[index] == UInt8(ascii: "-")) { index += 1 }
            var exponentDigits = 0
            while index < count && isDigit(field[index]) { index += 1; exponentDigits += 1 }
            guard exponentDigits > 0 else { return nil }
        }
        guard index == count, let value = Double(String(decoding: field, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }

    /// An integer with an optional sign that fits in Int64.
    /// - Parameter field: The field's bytes.
    /// - Returns: The timestamp, or nil.
    public static func parseTimestamp(_ field: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        var negative = false
        if index < field.count && (field[index] == UInt8(ascii: "+") || field[index] == UInt8(ascii: "-")) {
            negative = field[index] == UInt8(ascii: "-")
            index += 1
        }
        guard index < field.count else { return nil }
        var magnitude: UInt64 = 0
        while index < field.count {
            guard isDigit(field[index]) else { return nil }
            let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(field[index] - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            magnitude = sum
            index += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func equals(_ field: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        field.count == word.utf8CodeUnitCount && zip(field, UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)).allSatisfy { $0 == $1 }
    }

    /// The field as a String if it is valid UTF-8.
    private static func text(_ field: UnsafeRawBufferPointer) -> String? {
        String(validating: field, as: UTF8.self)
    }
}
