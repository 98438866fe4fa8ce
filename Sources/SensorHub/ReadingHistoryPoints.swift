import MetricStore
import SensorWire

/// What of a reading goes into the history (sans-I/O; the hub's recorder puts the samples into
/// MetricStore): each number becomes a ``MetricSample`` keyed `<sensor_id>.<field>`, at the
/// second the reading belongs to:
///
/// - every number of the reading object, nested objects flattened with dots
///   (`{"gps": {"lat": 1}}` of `A01-S1` is `A01-S1.gps.lat`); a reading that is a bare number is
///   the key `<sensor_id>` itself;
/// - the top-level `ts` is the reading's time in milliseconds, not a metric, and `seq` is not one
///   either; without a usable `ts` (a finite number of milliseconds) the reading belongs to the
///   second the hub received it;
/// - strings, booleans, nulls and arrays are not numbers: not recorded;
/// - a key MetricStore cannot hold (whitespace or a control character in the sensor id or a
///   field name, the key `*`, or a key over 4,096 bytes) and a value that is not finite are
///   skipped and counted, never altered. (A dotted field name and a nested one can still meet:
///   `{"a.b": 1}` and `{"a": {"b": 2}}` are both `<sensor>.a.b`.)
package enum ReadingHistoryPoints {
    /// The points of one reading.
    /// - Parameters:
    ///   - sensorID: The sensor that sent it.
    ///   - readings: What it sent (`sensor_readings`).
    ///   - receivedAt: When the hub received it, unix milliseconds.
    /// - Returns: The samples (member names sorted at each level), and
    ///   how many numeric fields were skipped for their key.
    package static func points(sensorID: String, readings: JSONValue, receivedAt: Int64) -> (points: [MetricSample], skipped: Int) {
        var points: [MetricSample] = []
        var skipped = 0
        switch readings {
        case .number(let value):
            let second = receivedAt.flooredSeconds
            append(value, key: sensorID, second: second, into: &points, skipped: &skipped)
        case .object(let members):
            let second = second(of: members["ts"]) ?? receivedAt.flooredSeconds
            for name in members.keys.sorted() where name != "ts" && name != "seq" {
                collect(members[name] ?? .null, key: sensorID + "." + name, second: second, into: &points, skipped: &skipped)
            }
        default:
            break
        }
        return (points, skipped)
    }

    private static func collect(_ value: JSONValue, key: String, second: Int64, into points: inout [MetricSample], skipped: inout Int) {
        switch value {
        case .number(let number):
            append(number, key: key, second: second, into: &points, skipped: &skipped)
        case .object(let members):
            for name in members.keys.sorted() {
                collect(members[name] ?? .null, key: key + "." + name, second: second, into: &points, skipped: &skipped)
            }
        default:
            break
        }
    }

    /// One sample, or one more skipped: a key MetricStore cannot hold, a value that is not
    /// finite, a second beyond this platform's Int.
    private static func append(_ value: Double, key: String, second: Int64, into points: inout [MetricSample], skipped: inout Int) {
        guard isRecordable(key: key), value.isFinite, let timestamp = Int(exactly: second) else {
            skipped += 1
            return
        }
        points.append(MetricSample(key: key, value: value, timestamp: timestamp))
    }

    /// The second of a `ts` in milliseconds; nil when it is not a finite number in range.
    private static func second(of ts: JSONValue?) -> Int64? {
        guard case .number(let milliseconds)? = ts, milliseconds.isFinite,
              let whole = Int64(exactly: milliseconds.rounded(.down)) else { return nil }
        return whole.flooredSeconds
    }

    /// A MetricStore key: one to 4,096 bytes, no whitespace or control characters, not `*`
    /// (the bound keeps every put line far below the protocol's 65,536).
    package static func isRecordable(key: String) -> Bool {
        !key.isEmpty && key != "*" && key.utf8.count <= 4096 && key.unicodeScalars.allSatisfy { scalar in
            !scalar.properties.isWhitespace && scalar.properties.generalCategory != .control
        }
    }
}

extension Int64 {
    /// Milliseconds to whole seconds, rounded down (towards the past, also before 1970).
    fileprivate var flooredSeconds: Int64 {
        let (quotient, remainder) = quotientAndRemainder(dividingBy: 1000)
        return remainder < 0 ? quotient - 1 : quotient
    }
}
