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
        /// The first live point: retention advances it instead of moving the arrays, which are
        /// compacted once half of them is dead (each point moved at most once, on average).
        var start = 0

        /// How many points are live.
        var count: Int { timestamps.count - start }

        /// Stores `value` at `timestamp`; returns whether that is a new point (not an overwrite).
        mutating func put(_ value: Double, at timestamp: Int64) -> Bool {
            // Most puts carry the newest timestamp: append without a search.
            if let last = timestamps.last, last < timestamp {
                timestamps.append(timestamp)
                values.append(value)
                return true
            }
            let low = firstIndex(atOrAfter: timestamp)
            if low < timestamps.count && timestamps[low] == timestamp {
                values[low] = value
                return false
            }
            timestamps.insert(timestamp, at: low)
            values.insert(value, at: low)
            return true
        }

        /// Drops the points before `horizon`; returns how many.
        mutating func removePoints(before horizon: Int64) -> Int {
            let end = firstIndex(atOrAfter: horizon)
            let removed = end - start
            guard removed > 0 else { return 0 }
            start = end
            if start * 2 >= timestamps.count {
                timestamps.removeFirst(start)
                values.removeFirst(start)
                start = 0
            }
            return removed
        }

        /// The index of the first point at or after `timestamp` (the count when there is none):
        /// a binary search, so a range read costs the range, not the key's history.
        func firstIndex(atOrAfter timestamp: Int64) -> Int {
            var low = start
            var high = timestamps.count
            while low < high {
                let middle = (low + high) / 2
                if timestamps[middle] < timestamp { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    private var order: [String] = []
    /// `ranks[i]` is `order[i]`'s place in first-put order, increasing and never reused: a
    /// `get *` answered in pieces finds where it stopped by rank, even after retention removed
    /// keys before it.
    private var ranks: [UInt64] = []
    private var nextRank: UInt64 = 0
    private var series: [String: Series] = [:]
    /// The points of every key, kept as they change (read under the server's lock on every
    /// batch of puts: summing the keys would cost their number).
    private var storedPoints = 0

    /// An empty store.
    public init() {}

    /// How many points are stored.
    public var pointCount: Int { storedPoints }

    /// The keys, in the order they were first put.
    public var keys: [String] { order }

    /// Drops every point older than `horizon` (retention): a key left without points is
    /// forgotten, so a later put makes it a new key, listed last.
    /// - Parameter horizon: The oldest second kept (unix seconds).
    /// - Returns: How many points were dropped.
    @discardableResult
    public mutating func removePoints(before horizon: Int64) -> Int {
        var removed = 0
        var emptied: Set<String> = []
        for key in order {
            guard let count = series[key]?.removePoints(before: horizon), count > 0 else { continue }
            removed += count
            storedPoints -= count
            if series[key]?.count == 0 {
                series[key] = nil
                emptied.insert(key)
            }
        }
        if !emptied.isEmpty {
            // One pass, whatever the number of keys gone.
            var keptOrder: [String] = []
            var keptRanks: [UInt64] = []
            keptOrder.reserveCapacity(order.count - emptied.count)
            keptRanks.reserveCapacity(order.count - emptied.count)
            for (key, rank) in zip(order, ranks) where !emptied.contains(key) {
                keptOrder.append(key)
                keptRanks.append(rank)
            }
            (order, ranks) = (keptOrder, keptRanks)
        }
        return removed
    }

    /// Stores a point.
    /// - Parameters:
    ///   - key: The metric.
    ///   - value: Its value.
    ///   - timestamp: Unix seconds; an existing point at the same second is overwritten.
    public mutating func put(_ key: String, _ value: Double, timestamp: Int64) {
        // One hash lookup: a new key shows as a grown dictionary.
        let count = series.count
        if series[key, default: Series()].put(value, at: timestamp) { storedPoints += 1 }
        if series.count != count {
            order.append(key)
            ranks.append(nextRank)
            nextRank += 1
        }
    }

    /// The points of `key` (of every key for `*`), keys in first-put order, each key's by timestamp.
    /// - Parameter key: A key, or `*`.
    /// - Returns: The records (empty when nothing matches).
    public func get(_ key: String) -> [MetricRecord] {
        get(key, from: .min, to: .max)
    }

    /// The points of `key` (of every key for `*`) whose timestamps lie from `from` to `to`,
    /// both included, keys in first-put order, each key's by timestamp; none when `from` is
    /// after `to`. Costs the points listed (and a binary search per key), not the history.
    /// - Parameters:
    ///   - key: A key, or `*`.
    ///   - from: The first second listed (unix seconds).
    ///   - to: The last second listed.
    /// - Returns: The records (empty when nothing matches).
    public func get(_ key: String, from: Int64, to: Int64) -> [MetricRecord] {
        var records: [MetricRecord] = []
        guard from <= to else { return records }
        for name in key == "*" ? order : [key] {
            guard let points = series[name] else { continue }
            var index = points.firstIndex(atOrAfter: from)
            while index < points.timestamps.count && points.timestamps[index] <= to {
                records.append(MetricRecord(key: name, point: MetricPoint(timestamp: Int(points.timestamps[index]), value: points.values[index])))
                index += 1
            }
        }
        return records
    }

    /// Appends the record lines of a `get` answer (`key`, or every key for `*`; between `first`
    /// and `last`, inclusive, for a range read) from `cursor` on, at most `limit` records,
    /// without the answer's `ok` and closing empty line: a server produces a large answer in
    /// pieces as its client reads, taking the store's lock once per piece.
    ///
    /// A piece's work is bounded: at most `limit` records, `byteLimit` bytes, and `limit` keys
    /// visited (a `get * <from> <to>` whose range is empty for most keys visits them all, a
    /// piece at a time, possibly appending nothing).
    ///
    /// Between pieces the store may change: every point stored before the first piece is
    /// listed exactly once, in the order ``get(_:)`` lists it, unless retention dropped it
    /// meanwhile; a point put meanwhile is listed if it sorts after the cursor (with its
    /// newest value). Keys are found by their place in first-put order, so retention removing
    /// keys between pieces skips none of the others.
    /// - Parameters:
    ///   - key: A key, or `*`.
    ///   - first: The first second listed (a range read; `.min` for all).
    ///   - last: The last second listed (`.max` for all); none when `first` is after `last`.
    ///   - cursor: Where the previous piece ended; a new cursor for the first piece.
    ///   - limit: The most records to append, and keys to visit.
    ///   - byteLimit: Stop once the piece has added this many bytes (long keys make long
    ///     lines: a piece is bounded in bytes, not only in records).
    ///   - bytes: Where the lines go.
    /// - Returns: How many records were appended, and where the next piece starts (nil when
    ///   the answer is complete).
    package func appendRecords(of key: String, between first: Int64 = .min, and last: Int64 = .max, after cursor: MetricGetCursor,
                               limit: Int, byteLimit: Int = .max, to bytes: inout [UInt8]) -> (count: Int, next: MetricGetCursor?) {
        var cursor = cursor
        var count = 0
        var visited = 0
        let start = bytes.count
        guard first <= last else { return (0, nil) }
        // The keys listed, each with its place: the cursor holds the place, not an index.
        let all = key == "*"
        var position = all ? Self.firstIndex(of: cursor.keyRank, in: ranks) : Int(min(cursor.keyRank, 1))
        if all, position < ranks.count, ranks[position] != cursor.keyRank {
            cursor.after = nil  // the key the cursor was in is gone (retention): start the next afresh
        }
        let keyCount = all ? order.count : 1
        while position < keyCount {
            guard visited < max(1, limit) else { return (count, cursor) }
            visited += 1
            let name = all ? order[position] : key
            let rank = all ? ranks[position] : UInt64(position)
            cursor.keyRank = rank
            if let points = series[name] {
                // The first point of the range past the cursor (points may have been inserted
                // before it): a binary search, not a walk from the key's first point.
                var index = points.firstIndex(atOrAfter: first)
                if let after = cursor.after {
                    index = after == .max ? points.timestamps.count : max(index, points.firstIndex(atOrAfter: after + 1))
                }
                while index < points.timestamps.count && points.timestamps[index] <= last {
                    guard count == 0 || (count < limit && bytes.count - start < byteLimit) else { return (count, cursor) }
                    appendRecordLine(key: name, value: points.values[index], timestamp: points.timestamps[index], to: &bytes)
                    cursor.after = points.timestamps[index]
                    count += 1
                    index += 1
                }
            }
            position += 1
            cursor.keyRank = rank + 1
            cursor.after = nil
        }
        return (count, nil)
    }

    /// The index of the first rank at or after `rank` in the sorted `ranks`.
    private static func firstIndex(of rank: UInt64, in ranks: [UInt64]) -> Int {
        var low = 0
        var high = ranks.count
        while low < high {
            let middle = (low + high) / 2
            if ranks[middle] < rank { low = middle + 1 } else { high = middle }
        }
        return low
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
        case .command(.getRange(let key, let from, let to)):
            return .ok(get(key, from: from, to: to))
        case .wrong, .tooLong:
            return .error("wrong command")
        }
    }
}
