import MetricStore
import SensorWire

/// Downsampling a field's points for a history answer (sans-I/O): at most `maxPoints`
/// points come back. When there are no more than that, each point is its own bucket; otherwise
/// the range is cut into `maxPoints` buckets of equal whole seconds, and each bucket that
/// holds points gives one: its first second, and the average, minimum, maximum and count of
/// its points.
package enum HistoryDownsampling {
    /// One point of an answer: a bucket of `count` points from ``time`` on.
    package struct Bucket: Sendable, Hashable {
        /// The bucket's first second (a single point's own second).
        package var time: Int64
        /// The mean of its values.
        package var average: Double
        /// The smallest value.
        package var minimum: Double
        /// The largest value.
        package var maximum: Double
        /// How many points it holds.
        package var count: Int

        /// A bucket.
        package init(time: Int64, average: Double, minimum: Double, maximum: Double, count: Int) {
            self.time = time
            self.average = average
            self.minimum = minimum
            self.maximum = maximum
            self.count = count
        }

        /// `[time, avg, min, max, count]`, as the wire protocol carries it.
        package var json: JSONValue {
            [.number(Double(time)), .number(average), .number(minimum), .number(maximum), .number(Double(count))]
        }
    }

    /// The width in seconds of the buckets `from...to` is cut into for `maxPoints` of them:
    /// the span divided by `maxPoints`, rounded up, so no more than `maxPoints` buckets cover it.
    /// - Precondition: `from <= to`, both within ``HistoryRequest/maxTimeMagnitude`` (so the span
    ///   cannot overflow), `maxPoints >= 1`.
    package static func bucketWidth(from: Int64, to: Int64, maxPoints: Int) -> Int64 {
        let span = to - from + 1
        let count = Int64(maxPoints)
        return (span + count - 1) / count
    }

    /// The buckets of `points` (sorted by time, within `from...to`; others are left out).
    /// - Parameters:
    ///   - points: A field's points, sorted by timestamp, one per second.
    ///   - from: The range's first second.
    ///   - to: Its last second.
    ///   - maxPoints: Buckets at most (at least 1).
    /// - Returns: The buckets in time order, none empty.
    package static func buckets(_ points: [MetricPoint], from: Int64, to: Int64, maxPoints: Int) -> [Bucket] {
        let inRange = points.filter { Int64($0.timestamp) >= from && Int64($0.timestamp) <= to }
        guard inRange.count > maxPoints else {
            return inRange.map { Bucket(time: Int64($0.timestamp), average: $0.value, minimum: $0.value, maximum: $0.value, count: 1) }
        }
        let width = bucketWidth(from: from, to: to, maxPoints: maxPoints)
        var buckets: [Bucket] = []
        buckets.reserveCapacity(maxPoints)
        var sum = 0.0
        for point in inRange {
            let second = Int64(point.timestamp)
            let start = from + (second - from) / width * width
            if let last = buckets.last, last.time == start {
                sum += point.value
                buckets[buckets.count - 1].count += 1
                buckets[buckets.count - 1].minimum = min(last.minimum, point.value)
                buckets[buckets.count - 1].maximum = max(last.maximum, point.value)
                buckets[buckets.count - 1].average = sum / Double(last.count + 1)
            } else {
                sum = point.value
                buckets.append(Bucket(time: start, average: point.value, minimum: point.value, maximum: point.value, count: 1))
            }
        }
        return buckets
    }
}
