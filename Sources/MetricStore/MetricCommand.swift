/// A command a client sends to a metric store, one per line.
///
/// - `put <key> <value> <timestamp>`: stores `value` for `key` at `timestamp` (unix seconds);
///   a second put for the same key and second overwrites the first.
/// - `get <key>`: every point of `key`, or of every key for `*`.
/// - `get <key> <from> <to>`: the points of `key` (of every key for `*`) whose timestamps lie
///   between `from` and `to` (unix seconds, both included; none when `from` is after `to`).
public enum MetricCommand: Sendable, Hashable {
    /// Store one point.
    case put(key: String, value: Double, timestamp: Int64)
    /// Read the points of one key, or of all keys (`*`).
    case get(key: String)
    /// Read the points of one key (or of all keys, `*`) from `from` to `to`, inclusive.
    case getRange(key: String, from: Int64, to: Int64)

    /// Appends the command's line, `\n` included, without building a String first.
    /// - Parameter bytes: Where the line goes.
    public func append(to bytes: inout [UInt8]) {
        switch self {
        case .put(let key, let value, let timestamp):
            // `put ` and the line a get answer lists the point with.
            bytes.append(contentsOf: "put ".utf8)
            appendRecordLine(key: key, value: value, timestamp: timestamp, to: &bytes)
        case .get(let key):
            bytes.append(contentsOf: "get ".utf8)
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: "\n"))
        case .getRange(let key, let from, let to):
            bytes.append(contentsOf: "get ".utf8)
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: " "))
            appendDecimal(from, to: &bytes)
            bytes.append(UInt8(ascii: " "))
            appendDecimal(to, to: &bytes)
            bytes.append(UInt8(ascii: "\n"))
        }
    }

    /// The command's line, `\n` included, as the protocol writes it.
    public var line: String {
        switch self {
        case .put(let key, let value, let timestamp): "put \(key) \(value) \(timestamp)\n"
        case .get(let key): "get \(key)\n"
        case .getRange(let key, let from, let to): "get \(key) \(from) \(to)\n"
        }
    }
}

/// What the server answers, each answer closed by an empty line.
public enum MetricAnswer: Sendable, Hashable {
    /// `ok`, with the points a `get` found (none for a put or an empty get): `ok\n` then
    /// `<key> <value> <timestamp>\n` per point, then `\n`.
    case ok([MetricRecord])
    /// `error\n<text>\n\n`: the command was wrong (the text is `wrong command`).
    case error(String)

    /// Appends the answer's bytes (what ``text`` spells) without building a String first.
    /// - Parameter bytes: Where the answer goes.
    public func append(to bytes: inout [UInt8]) {
        switch self {
        case .ok(let records):
            bytes.append(contentsOf: "ok\n".utf8)
            for record in records {
                appendRecordLine(key: record.key, value: record.point.value, timestamp: Int64(record.point.timestamp), to: &bytes)
            }
            bytes.append(UInt8(ascii: "\n"))
        case .error(let message):
            bytes.append(contentsOf: "error\n".utf8)
            bytes.append(contentsOf: message.utf8)
            bytes.append(contentsOf: "\n\n".utf8)
        }
    }

    /// The answer as the server writes it, byte for byte.
    public var text: String {
        switch self {
        case .ok(let records):
            var text = "ok\n"
            for record in records { text += record.line }
            return text + "\n"
        case .error(let message):
            return "error\n\(message)\n\n"
        }
    }
}

/// A point of a named metric, as a `get` lists it.
public struct MetricRecord: Sendable, Hashable {
    /// The metric's key.
    public var key: String
    /// The point.
    public var point: MetricPoint

    /// A record.
    /// - Parameters:
    ///   - key: The metric's key.
    ///   - point: The point.
    public init(key: String, point: MetricPoint) {
        self.key = key
        self.point = point
    }

    /// `<key> <value> <timestamp>\n`, the value as `Double.description` writes it.
    public var line: String { "\(key) \(point.value.description) \(point.timestamp)\n" }
}

/// One stored value of a metric.
public struct MetricPoint: Sendable, Hashable, Comparable {
    /// Unix time in seconds.
    public var timestamp: Int
    /// The value (always finite).
    public var value: Double

    /// A point.
    /// - Parameters:
    ///   - timestamp: Unix time in seconds.
    ///   - value: The value.
    public init(timestamp: Int, value: Double) {
        self.timestamp = timestamp
        self.value = value
    }

    /// Points order by timestamp.
    /// - Parameters:
    ///   - lhs: A point.
    ///   - rhs: Another point.
    public static func < (lhs: MetricPoint, rhs: MetricPoint) -> Bool { lhs.timestamp < rhs.timestamp }
}

/// Appends `<key> <value> <timestamp>\n`, the line a `get` answer lists a point with.
func appendRecordLine(key: String, value: Double, timestamp: Int64, to bytes: inout [UInt8]) {
    bytes.append(contentsOf: key.utf8)
    bytes.append(UInt8(ascii: " "))
    bytes.append(contentsOf: value.description.utf8)
    bytes.append(UInt8(ascii: " "))
    appendDecimal(timestamp, to: &bytes)
    bytes.append(UInt8(ascii: "\n"))
}

/// Appends `value` in decimal.
func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
    if value == 0 {
        bytes.append(UInt8(ascii: "0"))
        return
    }
    var magnitude = value.magnitude
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    withUnsafeMutableBytes(of: &digits) { buffer in
        while magnitude > 0 {
            buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            count += 1
        }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
    }
}
