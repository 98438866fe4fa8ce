/// The client's sans-I/O reader of the answer stream: bytes in (split anywhere, several
/// answers in one read), one ``MetricAnswer`` out per answer (closed by an empty line), in order.
///
/// Anything that is not an answer (an unknown status, a malformed record, a line over the
/// limit) is a ``Failure``: the client then drops the connection, since it can no longer tell
/// which answer belongs to which command.
public struct MetricAnswerParser: Sendable {
    /// The stream is not the protocol any more.
    public struct Failure: Error, Sendable, Hashable {
        /// What was wrong.
        public var reason: String
    }

    private enum State: Sendable {
        /// Waiting for `ok` or `error`.
        case status
        /// After `ok`: records until the empty line.
        case records([MetricRecord])
        /// After `error`: the message lines until the empty line.
        case error([String])
    }

    /// The longest line accepted, newline excluded.
    public let maxLineLength: Int
    private var state = State.status
    private var pending: [UInt8] = []

    /// A parser accepting lines up to `maxLineLength` bytes.
    /// - Parameter maxLineLength: The limit, newline excluded.
    public init(maxLineLength: Int = 1 << 20) {
        self.maxLineLength = maxLineLength
    }

    /// Answers in order, as the client's codec hands them on: a run of consecutive empty `ok`
    /// answers (what a put gets) is counted, not listed, so a window of pipelined puts costs
    /// one counter, not an answer value each.
    package enum Run: Sendable, Hashable {
        /// This many `ok` answers without records, in a row.
        case oks(Int)
        /// Any other answer (a `get`'s records, an error).
        case answer(MetricAnswer)
    }

    /// Parses what `input` completes, appending each complete answer.
    /// - Parameters:
    ///   - input: The bytes just read.
    ///   - answers: Where complete answers go.
    /// - Throws: ``Failure`` once the stream is malformed (later calls throw again).
    public mutating func parse(_ input: UnsafeRawBufferPointer, into answers: inout [MetricAnswer]) throws(Failure) {
        var runs: [Run] = []
        defer {
            for run in runs {
                switch run {
                case .oks(let count): answers.append(contentsOf: repeatElement(.ok([]), count: count))
                case .answer(let answer): answers.append(answer)
                }
            }
        }
        try parse(input, into: &runs)
    }

    /// Parses what `input` completes, appending each complete answer to `runs` (empty `ok`s
    /// counted into the last run when it is one).
    /// - Throws: ``Failure`` once the stream is malformed (later calls throw again).
    package mutating func parse(_ input: UnsafeRawBufferPointer, into runs: inout [Run]) throws(Failure) {
        var start = 0
        while start < input.count {
            // A put's answer, whole in this read (nearly every one): counted without a line.
            if pending.isEmpty, case .status = state, input.count - start >= 4, input[start] == UInt8(ascii: "o"),
               input[start + 1] == UInt8(ascii: "k"), input[start + 2] == UInt8(ascii: "\n"), input[start + 3] == UInt8(ascii: "\n") {
                Self.countOK(into: &runs)
                start += 4
                continue
            }
            guard let newline = input[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                pending.append(contentsOf: input[start...])
                if pending.count > maxLineLength { throw Failure(reason: "an answer line over \(maxLineLength) bytes") }
                return
            }
            if pending.isEmpty {
                try take(UnsafeRawBufferPointer(rebasing: input[start..<newline]), into: &runs)
            } else {
                pending.append(contentsOf: input[start..<newline])
                if pending.count > maxLineLength { throw Failure(reason: "an answer line over \(maxLineLength) bytes") }
                let line = pending
                pending.removeAll(keepingCapacity: true)
                try Self.withBytes(of: line) { (bytes) throws(Failure) in try take(bytes, into: &runs) }
            }
            start = newline + 1
        }
    }

    /// Convenience for tests: parses a byte array.
    /// - Parameter bytes: The bytes just read.
    /// - Returns: The answers they complete.
    /// - Throws: ``Failure`` on a malformed stream.
    public mutating func parse(_ bytes: [UInt8]) throws(Failure) -> [MetricAnswer] {
        var answers: [MetricAnswer] = []
        try Self.withBytes(of: bytes) { (input) throws(Failure) in try parse(input, into: &answers) }
        return answers
    }

    /// `withUnsafeBytes` with the typed error kept (its own `rethrows` widens it to `any Error`).
    private static func withBytes(of bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(Failure) -> Void) throws(Failure) {
        var failure: Failure?
        bytes.withUnsafeBytes { buffer in
            do throws(Failure) {
                try body(buffer)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// One more empty `ok`: into the last run if it counts them.
    private static func countOK(into runs: inout [Run]) {
        if let last = runs.indices.last, case .oks(let count) = runs[last] {
            runs[last] = .oks(count + 1)
        } else {
            runs.append(.oks(1))
        }
    }

    private mutating func take(_ line: UnsafeRawBufferPointer, into runs: inout [Run]) throws(Failure) {
        switch state {
        case .status:
            if line.elementsEqual("ok".utf8) {
                state = .records([])
            } else if line.elementsEqual("error".utf8) {
                state = .error([])
            } else {
                throw Failure(reason: "an answer that starts with neither ok nor error")
            }
        case .records(var records):
            // Leave the state while the array grows, or every append would copy it.
            state = .status
            if line.isEmpty {
                if records.isEmpty { Self.countOK(into: &runs) } else { runs.append(.answer(.ok(records))) }
                state = .status
                return
            }
            guard let record = Self.record(line) else { throw Failure(reason: "a malformed record line") }
            records.append(record)
            state = .records(records)
        case .error(var lines):
            state = .status
            if line.isEmpty {
                runs.append(.answer(.error(lines.joined(separator: "\n"))))
                state = .status
                return
            }
            lines.append(String(decoding: line, as: UTF8.self))
            state = .error(lines)
        }
    }

    /// `<key> <value> <timestamp>`, separated by single spaces.
    private static func record(_ line: UnsafeRawBufferPointer) -> MetricRecord? {
        guard let lastSpace = line.lastIndex(of: UInt8(ascii: " ")),
              let middleSpace = line[..<lastSpace].lastIndex(of: UInt8(ascii: " ")), middleSpace > 0,
              let key = String(validating: line[..<middleSpace], as: UTF8.self),
              let value = MetricLineParser.parseValue(UnsafeRawBufferPointer(rebasing: line[(middleSpace + 1)..<lastSpace])),
              let timestamp = MetricLineParser.parseTimestamp(UnsafeRawBufferPointer(rebasing: line[(lastSpace + 1)...])),
              let seconds = Int(exactly: timestamp) else { return nil }
        return MetricRecord(key: key, point: MetricPoint(timestamp: seconds, value: value))
    }
}
