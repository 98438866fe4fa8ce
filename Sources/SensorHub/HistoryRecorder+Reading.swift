import MetricStore
import SensorWire

extension HistoryRecorder {
    /// The fields of `sensorID` recorded since the hub started (sorted; the empty field is a
    /// reading that was a bare number).
    package func knownFields(of sensorID: String) -> [String] {
        let keys = knownKeys.withLock { $0[sensorID] ?? [] }
        return keys.map { key in key == sensorID ? "" : String(key.dropFirst(sensorID.count + 1)) }.sorted()
    }

    /// Reads what `query` asks for from the store (one range read per field, concurrently, on
    /// the reader's connection) and makes its answer: the points downsampled, or 503 when
    /// the store could not be read. Points still waiting in the recorder's queue are not in it.
    package func read(_ query: HistoryQuery) async -> ServerMessage {
        let fields = query.field.map { [$0] } ?? knownFields(of: query.sensorID)
        let client = reader
        do {
            let points = try await withThrowingTaskGroup(of: (String, [MetricPoint]).self) { group in
                for field in fields {
                    let key = query.key(of: field)
                    group.addTask { (field, try await client.get(key, from: Int(query.from), to: Int(query.to))[key] ?? []) }
                }
                var points: [String: [MetricPoint]] = [:]
                for try await (field, fieldPoints) in group { points[field] = fieldPoints }
                return points
            }
            return query.answer(points)
        } catch let error as MetricStoreClientError {
            return query.unavailable(error.description)
        } catch {
            return query.unavailable("cancelled")
        }
    }
}
