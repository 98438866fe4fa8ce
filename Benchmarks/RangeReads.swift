import MetricStore
import TestSupport

/// MetricStore range reads in the store itself (no socket): a 60-point range (a minute of
/// one-second points) out of 1 M points of one key, and out of 10,000 keys of 100 points
/// each; beside them what a range costs without range reads (the key's whole history read,
/// then filtered).
enum RangeReads {
    /// One key with a point every second for 1,000,000 seconds.
    static let oneKey: MetricStorage = {
        var storage = MetricStorage()
        for second in 0..<1_000_000 { storage.put("cpu", Double(second % 1000) / 10, timestamp: Int64(second)) }
        return storage
    }()

    /// 10,000 keys, 100 seconds each (1,000,000 points).
    static let manyKeys: MetricStorage = {
        var storage = MetricStorage()
        for second in 0..<100 {
            for key in 0..<10_000 { storage.put("sensor\(key).temperature", Double(key % 50), timestamp: Int64(second)) }
        }
        return storage
    }()

    /// `reads` range reads of 60 points at seeded random places.
    static func read(_ storage: MetricStorage, keys: Int, span: Int, reads: Int, wholeHistory: Bool = false) -> Benchmark.Work {
        var generator = SeededGenerator(seed: 29)
        var checksum = 0
        for _ in 0..<reads {
            let key = keys == 1 ? "cpu" : "sensor\(Int.random(in: 0..<keys, using: &generator)).temperature"
            let from = Int64(Int.random(in: 0...(span - 60), using: &generator))
            let points = wholeHistory
                ? storage.get(key).filter { from <= $0.point.timestamp && $0.point.timestamp <= from + 59 }
                : storage.get(key, from: from, to: from + 59)
            precondition(points.count == 60, "a 60-second range of one-second points")
            checksum &+= points.count &+ Int(points[0].point.timestamp)
        }
        return Benchmark.Work(bytes: 0, items: reads, checksum: checksum)
    }

    static var benchmarks: [Benchmark] { [
        Benchmark(name: "range: 60 of 1M points of one key", itemName: "reads") {
            read(oneKey, keys: 1, span: 1_000_000, reads: 100_000)
        },
        Benchmark(name: "range: same, whole history filtered (no range reads)", itemName: "reads") {
            read(oneKey, keys: 1, span: 1_000_000, reads: 20, wholeHistory: true)
        },
        Benchmark(name: "range: 60 of 100 points of one of 10,000 keys", itemName: "reads") {
            read(manyKeys, keys: 10_000, span: 100, reads: 100_000)
        },
    ] }
}
