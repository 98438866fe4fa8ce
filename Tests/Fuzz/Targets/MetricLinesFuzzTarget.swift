import MetricStore

/// Fuzzing of the metric server's line parser and the client's answer parser.
///
/// Input: the first byte chooses where to split the rest; the rest is a command stream. Checks:
/// the lines are the same whole and split in two; every line agrees with a naive reference
/// (split on blanks, `Double`/`Int64` from the standard library with the protocol's extra
/// rules); every get and range read lists what a naive model of the puts lists; the store's
/// answers parse back, split anywhere, to themselves.
enum MetricLinesFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let (first, stream, cut) = splitPoint(input) else { return }

        var whole = MetricLineParser(maxLineLength: 64)
        let lines = whole.parse(stream)
        var split = MetricLineParser(maxLineLength: 64)
        let splitLines = split.parse(Array(stream[..<cut])) + split.parse(Array(stream[cut...]))
        precondition(lines == splitLines, "the parse depends on where the input was split")

        // The reference, line by line, up to a too-long line.
        var expected: [MetricLineParser.Line] = []
        var rest = stream[...]
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            let line = rest[..<newline]
            if line.count > 64 { break }
            expected.append(reference(Array(line)))
            rest = rest[(newline + 1)...]
        }
        precondition(Array(lines.prefix(expected.count)) == expected, "parser and reference disagree")

        var storage = MetricStorage()
        // A model written the obvious way: values by key and second, keys in first-put order.
        var model: [String: [Int64: Double]] = [:]
        var modelOrder: [String] = []
        func modelRecords(_ key: String, from: Int64, to: Int64) -> [MetricRecord] {
            (key == "*" ? modelOrder : [key]).flatMap { name in
                (model[name] ?? [:]).filter { from <= $0.key && $0.key <= to }.sorted { $0.key < $1.key }
                    .map { MetricRecord(key: name, point: MetricPoint(timestamp: Int($0.key), value: $0.value)) }
            }
        }
        let answers = lines.map { line -> MetricAnswer in
            switch line {
            case .command(.put(let key, let value, let timestamp)):
                if model[key] == nil { modelOrder.append(key) }
                model[key, default: [:]][timestamp] = value
            case .command(.get(let key)):
                precondition(storage.get(key) == modelRecords(key, from: .min, to: .max), "a get differs from the model")
            case .command(.getRange(let key, let from, let to)):
                precondition(storage.get(key, from: from, to: to) == modelRecords(key, from: from, to: to), "a range read differs from the model")
            default:
                break
            }
            return storage.answer(line)
        }
        let text = Array(answers.map(\.text).joined().utf8)
        var parser = MetricAnswerParser()
        let cutAnswers = text.isEmpty ? 0 : Int(first) % (text.count + 1)
        guard let parsed = try? parser.parse(Array(text[..<cutAnswers])) + parser.parse(Array(text[cutAnswers...])) else {
            preconditionFailure("the client cannot read what the server wrote")
        }
        precondition(parsed == answers, "answers do not round-trip")
    }

    /// The protocol from its description, written the obvious way.
    static func reference(_ bytes: [UInt8]) -> MetricLineParser.Line {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .wrong }
        // Unicode scalars, not Characters: a blank followed by a combining mark is one
        // Character, but the protocol's separators are bytes (found by the fuzzer).
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.last == "\r" { scalars = scalars.dropLast() }
        let fields = scalars.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { String(String.UnicodeScalarView($0)) }
        switch (fields.first, fields.count) {
        case ("put", 4):
            guard fields[1] != "*", let value = number(fields[2]), let timestamp = Int64(fields[3]) else { return .wrong }
            return .command(.put(key: fields[1], value: value, timestamp: timestamp))
        case ("get", 2):
            return .command(.get(key: fields[1]))
        case ("get", 4):
            guard let from = Int64(fields[2]), let to = Int64(fields[3]) else { return .wrong }
            return .command(.getRange(key: fields[1], from: from, to: to))
        default:
            return .wrong
        }
    }

    /// A finite decimal: only digits, sign, point and exponent characters, with a digit in
    /// the mantissa, and what `Double` makes of it finite.
    static func number(_ text: String) -> Double? {
        guard text.allSatisfy({ "0123456789+-.eE".contains($0) }),
              text.split(whereSeparator: { $0 == "e" || $0 == "E" }).first?.contains(where: \.isNumber) == true,
              !text.hasPrefix("e"), !text.hasPrefix("E"),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
