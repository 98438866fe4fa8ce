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

    /// Parses what `input` completes, appending each complete answer.
    /// - Parameters:
    ///   - input: The bytes just read.
    ///   - answers: Where complete answers go.
    /// - Throws: ``Failure`` once the stream is malformed (later calls throw again).
    public mutating func parse(_ input: UnsafeRawBufferPointer, into answers: inout [MetricAnswer]) throws(Failure) {
        var start = 0
        while start < input.count {
            guard let newline = input[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                pending.append(contentsOf: input[start...])
                if pending.count > maxLineLength { throw Failure(reason: "an answer line over \(maxLineLength) bytes") }
                return
            }
            if pending.isEmpty {
                try take(UnsafeRawBufferPointer(rebasing: input[start..<newline]), into: &answers)
            } else {
                pending.append(contentsOf: input[start..<newline])
                if pending.count > maxLineLength { throw Failure(reason: "an answer line over \(maxLineLength) bytes") }
                let line = pending
                pending.removeAll(keepingCapacity: true)
                try Self.withBytes(of: line) { (bytes) throws(Failure) in try take(bytes, into: &answers) }
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

    private mutating func take(_ line: UnsafeRawBufferPointer, into answers: inout [MetricAnswer]) throws(Failure) {
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
                answers.append(.ok(records))
                state = .status
                return
            }
            guard let record = Self.record(line) else { throw Failure(reason: "a malformed record line") }
            records.append(record)
            state = .records(records)
        case .error(var lines):
            state = .status
            if line.isEmpty {
                answers.append(.error(lines.joined(separator: "\n")))
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
