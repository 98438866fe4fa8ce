import MetricStore
import Testing

/// Range reads in the store, against a model written the obvious way (not the store's own
/// `get`), whole and in pieces, with the store changing between pieces.
@Suite("MetricStore range reads in the store")
struct MetricRangeReadTests {
    static let data: [(key: String, timestamps: [Int])] = [("a", [5, 1, 3]), ("b", [2]), ("c", [-4, 0, 4, 8])]

    static func storage() -> MetricStorage {
        var storage = MetricStorage()
        for (key, timestamps) in data { for timestamp in timestamps { storage.put(key, Double(timestamp) / 2, timestamp: Int64(timestamp)) } }
        return storage
    }

    /// The model: keys in the order of `data`, each key's points sorted, filtered by the range.
    static func expected(_ key: String, from: Int, to: Int) -> [MetricRecord] {
        data.filter { key == "*" || $0.key == key }.flatMap { entry in
            entry.timestamps.sorted().filter { from <= $0 && $0 <= to }
                .map { MetricRecord(key: entry.key, point: MetricPoint(timestamp: $0, value: Double($0) / 2)) }
        }
    }

    /// A whole answer produced in pieces of `limit`.
    static func pieces(_ storage: MetricStorage, _ key: String, from: Int64 = .min, to: Int64 = .max, limit: Int) -> (bytes: [UInt8], pieces: Int) {
        var bytes = Array("ok\n".utf8)
        var cursor = MetricGetCursor()
        var pieces = 1
        while let next = storage.appendRecords(of: key, between: from, and: to, after: cursor, limit: limit, to: &bytes).next {
            cursor = next
            pieces += 1
        }
        bytes.append(UInt8(ascii: "\n"))
        return (bytes, pieces)
    }

    @Test("every range over the data and beyond, every key, whole and in pieces of every size, agrees with the model")
    func everyRange() {
        let storage = Self.storage()
        var compared = 0
        var nonEmpty = 0
        for from in -6...10 {
            for to in -6...10 {
                for key in ["*", "a", "b", "c", "missing"] {
                    let expected = Self.expected(key, from: from, to: to)
                    let ranged = storage.get(key, from: Int64(from), to: Int64(to))
                    #expect(ranged == expected, "\(key) \(from)...\(to)")
                    if !ranged.isEmpty { nonEmpty += 1 }
                    var expectedBytes: [UInt8] = []
                    MetricAnswer.ok(expected).append(to: &expectedBytes)
                    for limit in [1, 2, 5] {
                        let same = Self.pieces(storage, key, from: Int64(from), to: Int64(to), limit: limit).bytes == expectedBytes
                        #expect(same, "\(key) \(from)...\(to) in pieces of \(limit)")
                    }
                    compared += 1
                }
            }
        }
        #expect(compared == 17 * 17 * 5)
        #expect(nonEmpty > 300, "the ranges hit points: \(nonEmpty)")
        #expect(storage.get("*") == Self.expected("*", from: .min, to: .max))
    }

    @Test("Int64's extremes: the ranges reach them, and a cursor past Int64.max lists nothing more (no overflow)")
    func extremes() {
        var storage = MetricStorage()
        storage.put("k", 1, timestamp: .min)
        storage.put("k", 2, timestamp: .max)
        #expect(storage.get("k", from: .min, to: .max).map(\.point.value) == [1, 2])
        #expect(storage.get("k", from: .max, to: .max).map(\.point.value) == [2])
        #expect(storage.get("k", from: .min, to: .min).map(\.point.value) == [1])
        var cursor = MetricGetCursor()
        cursor.after = .max
        var bytes: [UInt8] = []
        let piece = storage.appendRecords(of: "k", after: cursor, limit: 10, to: &bytes)
        #expect(piece.count == 0 && piece.next == nil && bytes.isEmpty)
        var control = MetricGetCursor()
        control.after = 0
        let rest = storage.appendRecords(of: "k", after: control, limit: 10, to: &bytes)
        #expect(rest.count == 1 && String(decoding: bytes, as: UTF8.self) == "k 2.0 9223372036854775807\n", "control: past 0, the .max point")
    }

    @Test("a range answer in pieces with puts between them: a point inside the range after the cursor is listed, one before it or outside the range is not")
    func putsBetweenPieces() {
        var storage = Self.storage()
        var bytes: [UInt8] = []
        let first = storage.appendRecords(of: "*", between: 0, and: 4, after: MetricGetCursor(), limit: 1, to: &bytes)  // a 1
        storage.put("a", 9, timestamp: 0)    // in range, before the cursor: not listed
        storage.put("a", 9, timestamp: 2)    // in range, after it: listed
        storage.put("c", 9, timestamp: 7)    // out of range
        storage.put("d", 9, timestamp: 0)    // a new key, in range: listed last
        var cursor = first.next
        while let next = cursor {
            cursor = storage.appendRecords(of: "*", between: 0, and: 4, after: next, limit: 1, to: &bytes).next
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "a 0.5 1\na 9.0 2\na 1.5 3\nb 1.0 2\nc 0.0 0\nc 2.0 4\nd 9.0 0\n")
    }

    @Test("retention between pieces of a get * skips no key that remains, also when it removed the key the cursor was in")
    func retentionBetweenPieces() {
        for limit in 1...4 {
            var storage = MetricStorage()
            storage.put("old", 1, timestamp: 1)  // first: its removal shifts every key after it
            for key in ["k1", "k2", "k3", "k4", "k5"] { for timestamp in [1, 10] { storage.put(key, 1, timestamp: Int64(timestamp)) } }
            var bytes: [UInt8] = []
            var cursor = storage.appendRecords(of: "*", after: MetricGetCursor(), limit: limit, to: &bytes).next
            storage.removePoints(before: 5)     // "old" goes, and every key's point at 1
            while let next = cursor { cursor = storage.appendRecords(of: "*", after: next, limit: limit, to: &bytes).next }
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            for key in ["k1", "k2", "k3", "k4", "k5"] {
                #expect(lines.filter { $0 == "\(key) 1.0 10" }.count == 1, "\(key)'s point at 10 listed once with pieces of \(limit): \(lines)")
            }
        }
    }

    @Test("an empty range over many keys is visited a piece at a time: the store's lock is never held for all of them")
    func emptyRangeOverManyKeys() {
        var storage = MetricStorage()
        for key in 0..<5_000 { storage.put("k\(key)", 1, timestamp: 100) }
        let (bytes, pieces) = Self.pieces(storage, "*", from: 0, to: 0, limit: 1024)
        #expect(bytes == Array("ok\n\n".utf8))
        #expect(pieces == 5, "1,024 keys visited a piece: \(pieces)")
        let (all, allPieces) = Self.pieces(storage, "*", from: 100, to: 100, limit: 1024)
        #expect(all.count > 5_000 * 8 && allPieces == 5, "control: the same keys with points in range")
    }
}
