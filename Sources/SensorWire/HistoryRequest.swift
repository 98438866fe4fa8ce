/// A `sensor_history` request, as an app sends it:
/// `{"request_id", "sensor_id", "field"?, "from", "to", "max_points"?}` (`from` and `to` in unix
/// seconds, both included). The hub answers `sensor_history_response` (see
/// ``ServerMessage/historyResponse(requestID:status:data:)``).
package struct HistoryRequest: Sendable, Hashable {
    /// Matches the answer to the request.
    package var requestID: String
    /// The sensor whose history is read.
    package var sensorID: String
    /// One field (`temperature`, `gps.lat`); nil: every field the hub knows for the sensor.
    package var field: String?
    /// The first second read (unix seconds).
    package var from: Int64
    /// The last second read (unix seconds, included).
    package var to: Int64
    /// Points per field at most (more are downsampled); nil: the hub's default.
    package var maxPoints: Int?

    /// The largest magnitude a time may have: every integer up to it is exact in a JSON number
    /// (a Double), so a request is read as it was written.
    package static let maxTimeMagnitude: Int64 = 1 << 53

    /// A request.
    package init(requestID: String, sensorID: String, field: String? = nil, from: Int64, to: Int64, maxPoints: Int? = nil) {
        self.requestID = requestID
        self.sensorID = sensorID
        self.field = field
        self.from = from
        self.to = to
        self.maxPoints = maxPoints
    }

    /// The request's `data` object.
    package var data: JSONValue {
        var members: [String: JSONValue] = [
            "request_id": .string(requestID), "sensor_id": .string(sensorID),
            "from": .number(Double(from)), "to": .number(Double(to)),
        ]
        if let field { members["field"] = .string(field) }
        if let maxPoints { members["max_points"] = .number(Double(maxPoints)) }
        return .object(members)
    }

    /// What an envelope's `data` holds: a request, or why it is not one (answered 400 when it
    /// has a request id); nil without a string `request_id` (nothing to answer to).
    package static func parse(_ data: JSONValue) -> Result<HistoryRequest, Invalid>? {
        guard let requestID = data["request_id"]?.stringValue else { return nil }
        func invalid(_ reason: String) -> Result<HistoryRequest, Invalid> { .failure(Invalid(requestID: requestID, reason: reason)) }
        guard let sensorID = data["sensor_id"]?.stringValue else { return invalid("sensor_id must be a string") }
        var field: String?
        if let value = data["field"], value != .null {
            guard let name = value.stringValue else { return invalid("field must be a string") }
            field = name
        }
        guard let from = time(data["from"]) else { return invalid("from must be a whole number of unix seconds") }
        guard let to = time(data["to"]) else { return invalid("to must be a whole number of unix seconds") }
        var maxPoints: Int?
        if let value = data["max_points"], value != .null {
            guard let count = value.intValue else { return invalid("max_points must be a whole number") }
            maxPoints = count
        }
        return .success(HistoryRequest(requestID: requestID, sensorID: sensorID, field: field, from: from, to: to, maxPoints: maxPoints))
    }

    /// A whole number of seconds within ``maxTimeMagnitude``; nil for anything else.
    private static func time(_ value: JSONValue?) -> Int64? {
        guard let seconds = value?.doubleValue, seconds.rounded() == seconds,
              seconds.magnitude <= Double(maxTimeMagnitude) else { return nil }
        return Int64(seconds)
    }

    /// A `sensor_history` request whose fields are wrong, with the id to answer it under.
    package struct Invalid: Error, Sendable, Hashable {
        /// The request's id.
        package var requestID: String
        /// What is wrong, for the answer's `error`.
        package var reason: String

        /// A request that is wrong for `reason`.
        package init(requestID: String, reason: String) {
            self.requestID = requestID
            self.reason = reason
        }
    }
}
