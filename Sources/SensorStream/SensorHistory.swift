import SensorWire

/// A sensor's recorded past, as the hub read it from its MetricStore
/// (``SensorClient/history(_:field:from:to:maxPoints:)``).
public struct SensorHistory: Sendable, Hashable {
    /// The sensor.
    public var sensorID: String
    /// The first second of the range (unix seconds).
    public var from: Int
    /// The last second of the range, included.
    public var to: Int
    /// The points by field (`temperature`, `gps.lat`; the empty name is a sensor whose
    /// readings are bare numbers), each in time order. A field with no point in the range is
    /// there with no points.
    public var series: [String: [HistoryPoint]]

    /// A history.
    /// - Parameters:
    ///   - sensorID: See ``sensorID``.
    ///   - from: See ``from``.
    ///   - to: See ``to``.
    ///   - series: See ``series``.
    public init(sensorID: String, from: Int, to: Int, series: [String: [HistoryPoint]]) {
        self.sensorID = sensorID
        self.from = from
        self.to = to
        self.series = series
    }

    /// The `data` of a 200 `sensor_history_response`; nil when malformed.
    init?(_ data: JSONValue) {
        guard let sensorID = data["sensor_id"]?.stringValue, let from = data["from"]?.intValue, let to = data["to"]?.intValue,
              let members = data["series"]?.objectValue else { return nil }
        var series: [String: [HistoryPoint]] = [:]
        for (field, value) in members {
            guard let entries = value.arrayValue else { return nil }
            var points: [HistoryPoint] = []
            points.reserveCapacity(entries.count)
            for entry in entries {
                guard let point = HistoryPoint(entry) else { return nil }
                points.append(point)
            }
            series[field] = points
        }
        self.init(sensorID: sensorID, from: from, to: to, series: series)
    }
}

/// One point of a ``SensorHistory``: a recorded value, or, when the range held more points
/// than asked for, a bucket of them (average, minimum, maximum and count).
public struct HistoryPoint: Sendable, Hashable {
    /// The point's second (unix seconds); a bucket's first second.
    public var time: Int
    /// The value; a bucket's average.
    public var average: Double
    /// The smallest value in the bucket (the value for a single point).
    public var minimum: Double
    /// The largest value in the bucket (the value for a single point).
    public var maximum: Double
    /// How many recorded points the bucket holds (1: a single point).
    public var count: Int

    /// A point.
    /// - Parameters:
    ///   - time: See ``time``.
    ///   - average: See ``average``.
    ///   - minimum: See ``minimum``.
    ///   - maximum: See ``maximum``.
    ///   - count: See ``count``.
    public init(time: Int, average: Double, minimum: Double, maximum: Double, count: Int) {
        self.time = time
        self.average = average
        self.minimum = minimum
        self.maximum = maximum
        self.count = count
    }

    /// `[time, avg, min, max, count]`; nil when malformed.
    init?(_ value: JSONValue) {
        guard let parts = value.arrayValue, parts.count == 5, let time = parts[0].intValue, let average = parts[1].doubleValue,
              let minimum = parts[2].doubleValue, let maximum = parts[3].doubleValue, let count = parts[4].intValue,
              count >= 1 else { return nil }
        self.init(time: time, average: average, minimum: minimum, maximum: maximum, count: count)
    }
}
