import MetricStore
import SensorWire

/// A `sensor_history` request the hub checked (sans-I/O): which MetricStore keys to read, over
/// which seconds, and how many points each field may answer with; ``answer(_:)`` turns what
/// the store returned into the `sensor_history_response`.
package struct HistoryQuery: Sendable, Hashable {
    /// The request's id.
    package var requestID: String
    /// The sensor.
    package var sensorID: String
    /// The one field asked for; nil: every field the hub knows for the sensor.
    package var field: String?
    /// The first second (unix seconds).
    package var from: Int64
    /// The last second, included.
    package var to: Int64
    /// Points per field at most, before the answer's budget (``maxPointsPerAnswer``) is shared out.
    package var maxPoints: Int

    /// Points per field when the request does not say.
    package static let defaultMaxPoints = 500
    /// The longest range one request reads, in seconds (31 days): the hub holds every point
    /// of the range in memory until it has downsampled them.
    package static let maxSpanSeconds: Int64 = 31 * 86_400
    /// Points one answer carries at most, over all its fields (about 450 KB of JSON, under a
    /// client's default 1 MiB message limit): with several fields each gets its share.
    package static let maxPointsPerAnswer = 10_000

    /// Why a request is answered without reading: its status and the answer's `error`.
    package struct Refusal: Error, Sendable, Hashable {
        /// The request's id.
        package var requestID: String
        /// 400 (a wrong request), 429 (too many) or 503 (no history).
        package var status: Int
        /// What the answer's `error` says.
        package var reason: String

        /// A refusal.
        package init(requestID: String, status: Int, reason: String) {
            self.requestID = requestID
            self.status = status
            self.reason = reason
        }

        /// The `sensor_history_response` that says so.
        package var answer: ServerMessage {
            .historyResponse(requestID: requestID, status: status, data: ["error": .string(reason)])
        }
    }

    /// Checks a request: 503 when the hub records no history, 400 for a range whose start is
    /// after its end or that is longer than ``maxSpanSeconds``, `max_points` outside 1 to
    /// ``maxPointsPerAnswer``, or a sensor id or field that no recorded key can have (see
    /// ``ReadingHistoryPoints``; an empty or over-long sensor id never gets here: the hub
    /// closes the connection for it).
    package static func make(_ request: HistoryRequest, recorded: Bool) -> Result<HistoryQuery, Refusal> {
        func refuse(_ status: Int, _ reason: String) -> Result<HistoryQuery, Refusal> {
            .failure(Refusal(requestID: request.requestID, status: status, reason: reason))
        }
        guard recorded else { return refuse(503, "this hub records no history (start it with --history metrics://HOST:PORT)") }
        guard request.from <= request.to else { return refuse(400, "from (\(request.from)) is after to (\(request.to))") }
        guard request.to - request.from < maxSpanSeconds else { return refuse(400, "a range of at most 31 days (\(maxSpanSeconds) seconds)") }
        let maxPoints = request.maxPoints ?? defaultMaxPoints
        guard (1...maxPointsPerAnswer).contains(maxPoints) else { return refuse(400, "max_points must be 1 to \(maxPointsPerAnswer)") }
        guard ReadingHistoryPoints.isRecordable(key: request.sensorID) else {
            return refuse(400, "no history is recorded for a sensor id with whitespace or control characters")
        }
        if let field = request.field {
            guard !field.isEmpty, ReadingHistoryPoints.isRecordable(key: request.sensorID + "." + field) else {
                return refuse(400, "field must be a field name without whitespace or control characters")
            }
        }
        return .success(HistoryQuery(requestID: request.requestID, sensorID: request.sensorID, field: request.field,
                                     from: request.from, to: request.to, maxPoints: maxPoints))
    }

    /// The MetricStore key of one of the sensor's fields (`A01-S1.temperature`; the empty field
    /// is a reading that was a bare number, kept under the sensor's id).
    package func key(of field: String) -> String {
        field.isEmpty ? sensorID : sensorID + "." + field
    }

    /// The points each of `fieldCount` fields may answer with: ``maxPoints``, or less when the
    /// fields' shares of ``maxPointsPerAnswer`` are smaller (at least one).
    package func pointsPerField(fieldCount: Int) -> Int {
        max(1, min(maxPoints, Self.maxPointsPerAnswer / max(1, fieldCount)))
    }

    /// The answer (status 200) for the points read, by field: each field's points downsampled
    /// (``HistoryDownsampling``) to its share.
    package func answer(_ pointsByField: [String: [MetricPoint]]) -> ServerMessage {
        let perField = pointsPerField(fieldCount: pointsByField.count)
        var series: [String: JSONValue] = [:]
        for (field, points) in pointsByField {
            let buckets = HistoryDownsampling.buckets(points, from: from, to: to, maxPoints: perField)
            series[field] = .array(buckets.map(\.json))
        }
        let data: JSONValue = ["sensor_id": .string(sensorID), "from": .number(Double(from)), "to": .number(Double(to)),
                               "series": .object(series)]
        return .historyResponse(requestID: requestID, status: 200, data: data)
    }

    /// The answer when the store could not be read (status 503).
    package func unavailable(_ reason: String) -> ServerMessage {
        Refusal(requestID: requestID, status: 503, reason: "history unavailable: \(reason)").answer
    }
}
