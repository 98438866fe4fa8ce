import MetricStore
import SensorHub
import SensorWire
import Testing

/// What of a reading goes into the history: numbers, flattened with dots, at the reading's
/// second.
@Suite("Reading history points")
struct ReadingHistoryPointsTests {
    static func points(_ readings: JSONValue, sensor: String = "A01-S1", receivedAt: Int64 = 1_700_000_000_999) -> [MetricSample] {
        ReadingHistoryPoints.points(sensorID: sensor, readings: readings, receivedAt: receivedAt).points
    }

    @Test("numbers flattened with dots at the reading's ts second; seq and ts are not metrics; other values are not recorded")
    func flattened() {
        let readings: JSONValue = ["temperature": 21.5, "humidity": 40, "seq": 7, "ts": 1_700_000_123_456, "unit": "C",
                                   "ok": true, "none": nil, "list": [1, 2], "gps": ["lat": 47.5, "lon": 8.5, "fix": ["sats": 9]]]
        #expect(Self.points(readings) == [
            MetricSample(key: "A01-S1.gps.fix.sats", value: 9, timestamp: 1_700_000_123),
            MetricSample(key: "A01-S1.gps.lat", value: 47.5, timestamp: 1_700_000_123),
            MetricSample(key: "A01-S1.gps.lon", value: 8.5, timestamp: 1_700_000_123),
            MetricSample(key: "A01-S1.humidity", value: 40, timestamp: 1_700_000_123),
            MetricSample(key: "A01-S1.temperature", value: 21.5, timestamp: 1_700_000_123),
        ])
    }

    @Test("without a usable ts the reading belongs to the second the hub received it (rounded down, also before 1970)")
    func receiveTime() {
        for ts in [nil, "soon", .number(.infinity), .number(1e30), true] as [JSONValue?] {
            var readings: [String: JSONValue] = ["t": 1]
            readings["ts"] = ts
            #expect(Self.points(.object(readings)) == [MetricSample(key: "A01-S1.t", value: 1, timestamp: 1_700_000_000)], "\(String(describing: ts))")
        }
        #expect(Self.points(["t": 1], receivedAt: -1) == [MetricSample(key: "A01-S1.t", value: 1, timestamp: -1)])
        #expect(Self.points(["t": 1, "ts": -1500]) == [MetricSample(key: "A01-S1.t", value: 1, timestamp: -2)])
        #expect(Self.points(["t": 1, "ts": 999.9]) == [MetricSample(key: "A01-S1.t", value: 1, timestamp: 0)])
    }

    @Test("a bare number is the sensor's own key; other bare values record nothing")
    func bareValues() {
        #expect(Self.points(3.5) == [MetricSample(key: "A01-S1", value: 3.5, timestamp: 1_700_000_000)])
        #expect(Self.points("on").isEmpty && Self.points(true).isEmpty && Self.points(nil).isEmpty && Self.points([1]).isEmpty)
        #expect(Self.points([:]).isEmpty)
    }

    @Test("a key MetricStore cannot hold is skipped and counted, never altered")
    func invalidKeys() {
        let result = ReadingHistoryPoints.points(sensorID: "A01-S1", readings: ["good": 1, "bad name": 2, "tab\there": 3, "ctl\u{7}": 4],
                                                 receivedAt: 0)
        #expect(result.points == [MetricSample(key: "A01-S1.good", value: 1, timestamp: 0)])
        #expect(result.skipped == 3)
        let badSensor = ReadingHistoryPoints.points(sensorID: "my sensor", readings: ["t": 1, "h": 2], receivedAt: 0)
        #expect(badSensor.points.isEmpty && badSensor.skipped == 2)
        #expect(ReadingHistoryPoints.points(sensorID: "*", readings: 1, receivedAt: 0).skipped == 1)
        let long = String(repeating: "x", count: 4096)
        let bounded = ReadingHistoryPoints.points(sensorID: "s", readings: .object([long: 1, "ok": 2]), receivedAt: 0)
        #expect(bounded.points.map(\.key) == ["s.ok"] && bounded.skipped == 1, "a key over 4,096 bytes")
        let infinite = ReadingHistoryPoints.points(sensorID: "s", readings: ["inf": .number(.infinity), "nan": .number(.nan), "ok": 1],
                                                   receivedAt: 0)
        #expect(infinite.points.map(\.key) == ["s.ok"] && infinite.skipped == 2, "values that are not finite")
    }
}
