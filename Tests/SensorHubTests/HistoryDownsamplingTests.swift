import MetricStore
import SensorHub
import SensorWire
import Testing

/// Downsampling and checking history requests, as values.
@Suite("History: downsampling and requests")
struct HistoryDownsamplingTests {
    /// The buckets written the obvious way: every second of the range visited, each bucket's
    /// points collected, then summarised.
    static func naiveBuckets(_ points: [MetricPoint], from: Int64, to: Int64, maxPoints: Int) -> [HistoryDownsampling.Bucket] {
        let inRange = points.filter { Int64($0.timestamp) >= from && Int64($0.timestamp) <= to }
        if inRange.count <= maxPoints {
            return inRange.map { .init(time: Int64($0.timestamp), average: $0.value, minimum: $0.value, maximum: $0.value, count: 1) }
        }
        let width = HistoryDownsampling.bucketWidth(from: from, to: to, maxPoints: maxPoints)
        var buckets: [HistoryDownsampling.Bucket] = []
        var start = from
        while start <= to {
            let values = inRange.filter { Int64($0.timestamp) >= start && Int64($0.timestamp) < start + width }.map(\.value)
            if !values.isEmpty {
                buckets.append(.init(time: start, average: values.reduce(0, +) / Double(values.count), minimum: values.min() ?? 0,
                                     maximum: values.max() ?? 0, count: values.count))
            }
            start += width
        }
        return buckets
    }

    @Test("buckets match a naive model over many ranges, sizes and gaps; never more than maxPoints; each point counted once")
    func againstModel() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let from = Int64.random(in: -50...50, using: &generator)
            let to = from + Int64.random(in: 0...120, using: &generator)
            let points = (from - 5...to + 5).filter { _ in Bool.random(using: &generator) }
                .map { MetricPoint(timestamp: Int($0), value: Double(Int.random(in: -100...100, using: &generator)) / 4) }
            let maxPoints = Int.random(in: 1...40, using: &generator)
            let buckets = HistoryDownsampling.buckets(points, from: from, to: to, maxPoints: maxPoints)
            let expected = Self.naiveBuckets(points, from: from, to: to, maxPoints: maxPoints)
            #expect(buckets.count == expected.count && zip(buckets, expected).allSatisfy { bucket, model in
                bucket.time == model.time && bucket.count == model.count && bucket.minimum == model.minimum
                    && bucket.maximum == model.maximum && abs(bucket.average - model.average) < 1e-9
            }, "from \(from) to \(to), \(points.count) points, max \(maxPoints)")
            #expect(buckets.count <= maxPoints)
            #expect(buckets.reduce(0) { $0 + $1.count } == points.filter { Int64($0.timestamp) >= from && Int64($0.timestamp) <= to }.count)
        }
    }

    @Test("the edges: no points, one point, exactly maxPoints (kept as they are), one more (bucketed), a one-second range, the widest range")
    func edges() {
        #expect(HistoryDownsampling.buckets([], from: 0, to: 10, maxPoints: 3).isEmpty)
        let one = [MetricPoint(timestamp: 5, value: 2)]
        #expect(HistoryDownsampling.buckets(one, from: 5, to: 5, maxPoints: 1) == [.init(time: 5, average: 2, minimum: 2, maximum: 2, count: 1)])
        let three = (0..<3).map { MetricPoint(timestamp: $0 * 4, value: Double($0)) }
        #expect(HistoryDownsampling.buckets(three, from: 0, to: 8, maxPoints: 3).map(\.count) == [1, 1, 1], "not more than asked: as they are")
        #expect(HistoryDownsampling.buckets(three, from: 0, to: 8, maxPoints: 2)
                == [.init(time: 0, average: 0.5, minimum: 0, maximum: 1, count: 2), .init(time: 5, average: 2, minimum: 2, maximum: 2, count: 1)])
        let limit = HistoryRequest.maxTimeMagnitude
        #expect(HistoryDownsampling.bucketWidth(from: -limit, to: limit, maxPoints: 1) == 2 * limit + 1, "no overflow at the widest range")
        let extremes = [MetricPoint(timestamp: Int(-limit), value: 1), MetricPoint(timestamp: Int(limit), value: 3)]
        #expect(HistoryDownsampling.buckets(extremes, from: -limit, to: limit, maxPoints: 1)
                == [.init(time: -limit, average: 2, minimum: 1, maximum: 3, count: 2)])
    }

    @Test("a request is checked: 503 without history, 400 for a reversed range, max_points outside 1...10,000 or a field no key can have")
    func checks() {
        func status(_ request: HistoryRequest, recorded: Bool = true) -> Int? {
            if case .failure(let refusal) = HistoryQuery.make(request, recorded: recorded) { refusal.status } else { nil }
        }
        let good = HistoryRequest(requestID: "r", sensorID: "S", field: "t", from: 1, to: 2)
        #expect(status(good) == nil, "positive control")
        #expect(status(good, recorded: false) == 503)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S", from: 3, to: 2)) == 400)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S", from: 2, to: 2, maxPoints: 10_000)) == nil)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S", from: 2, to: 2, maxPoints: 10_001)) == 400)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S", from: 2, to: 2, maxPoints: 0)) == 400)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S", field: "a b", from: 1, to: 2)) == 400)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S", field: "", from: 1, to: 2)) == 400)
        #expect(status(HistoryRequest(requestID: "r", sensorID: "S 1", from: 1, to: 2)) == 400)
        if case .success(let query) = HistoryQuery.make(good, recorded: true) {
            #expect(query.maxPoints == HistoryQuery.defaultMaxPoints)
            #expect(query.key(of: "t") == "S.t" && query.key(of: "") == "S")
            #expect(query.pointsPerField(fieldCount: 1) == 500 && query.pointsPerField(fieldCount: 40) == 250)
            #expect(query.pointsPerField(fieldCount: 20_000) == 1)
        } else {
            Issue.record("a good request was refused")
        }
    }
}
