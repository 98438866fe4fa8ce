/// The store's sans-I/O state: points by key, one value per (key, second).
///
/// Keys list in the order they were first put; a key's points by timestamp. A second put for
/// the same key and timestamp overwrites the value (and keeps the key's place).
public struct MetricStorage: Sendable {
    private struct Series: Sendable {
        /// Sorted, unique.
        var timestamps: [Int64] = []
        /// `values[i]` belongs to `timestamps[i]`.
        var values: [Double] = []

        mutating func put(_ value: Double, at timestamp: Int64) {
            // Most puts carry the newest timestamp: append without a search.
            if let last = timestamps.last, last < timestamp {
                timestamps.append(timestamp)
                values.append(value)
                return
            }
            var low = 0
            var high = timestamps.count
            while low < high {
                let middle = (low + high) / 2
                if timestamps[middle] < timestamp { low = middle + 1 } else { high = middle }
            }
            if low < timestamps.count && timestamps[low] == timestamp {
                values[low] = value
            } else {
                timestamps.insert(timestamp, at: low)
                values.insert(value, at: low)
            }
        }
    }

    private var order: [String] = []
    private var series: [String: Series] = [:]

    /// An empty store.
    public init() {}

    /// How many points are stored.
    public var pointCount: Int { series.values.reduce(0) { $0 + $1.timestamps.count } }

    /// The keys, in the order they were first put.
    public var keys: [String] { order }

    /// Stores a point.
    /// - Parameters:
    ///   - key: The metric.
    ///   - value: Its value.
    ///   - timestamp: Unix seconds; an existing point at the same second is overwritten.
    public mutating func put(_ key: String, _ value: Double, timestamp: Int64) {
        // One hash lookup: a new key shows as a grown dictionary.
        let count = series.count
        series[key, default: Series()].put(value, at: timestamp)
        if series.count != count { order.append(key) }
    }

    /// The points of `key` (of every key for `*`), keys in first-put order, each key's by timestamp.
    /// - Parameter key: A key, or `*`.
    /// - Returns: The records (empty when nothing matches).
    public func get(_ key: String) -> [MetricRecord] {
        var records: [MetricRecord] = []
        for name in key == "*" ? order : [key] {
            guard let points = series[name] else { continue }
            for (timestamp, value) in zip(points.timestamps, points.values) {
                records.append(MetricRecord(key: name, point: MetricPoint(timestamp: Int(timestamp), value: value)))
            }
        }
        return records
    }

    /// Applies one parsed line: what the server answers to it.
    /// - Parameter line: The parsed line.
    /// - Returns: The answer.
    public mutating func answer(_ line: MetricLineParser.Line) -> MetricAnswer {
        switch line {
        case .command(.put(let key, let value, let timestamp)):
            put(key, value, timestamp: timestamp)
            return .ok([])
        case .command(.get(let key)):
            return .ok(get(key))
        case .wrong, .tooLong:
            return .error("wrong command")
        }
    }
}
