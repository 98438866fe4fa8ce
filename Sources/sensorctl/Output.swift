import Foundation
import SensorStream

/// Writes one line to standard output at once (lines from concurrent tasks never mix).
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// The local wall-clock time as HH:MM:SS.mmm.
func clockTime(_ date: Date = Date()) -> String {
    var seconds = time_t(date.timeIntervalSince1970)
    var parts = tm()
    localtime_r(&seconds, &parts)
    let milliseconds = Int(date.timeIntervalSince1970 * 1000) % 1000
    return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, milliseconds)
}

/// Pads `text` to `width` characters.
func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// A reading as an aligned, readable line: known fields first, then the rest as JSON.
func readableLine(_ reading: SensorReading) -> String {
    var fields: [String] = []
    let value = reading.readings
    if let temperature = value["temperature"]?.doubleValue {
        fields.append("temperature " + padded(String(format: "%6.2f °C", temperature), 10))
    }
    if let humidity = value["humidity"]?.doubleValue {
        fields.append("humidity " + padded(String(format: "%5.1f %%", humidity), 8))
    }
    if let sequence = value["seq"]?.intValue { fields.append("seq \(sequence)") }
    if fields.isEmpty { fields.append(value.description) }
    let gap = reading.followsGap ? "  (after reconnect: readings may be missing)" : ""
    return "\(clockTime())  \(padded(reading.sensorID, 10)) " + fields.joined(separator: "  ") + gap
}

/// A reading as one JSON object per line, for piping.
func jsonLine(_ reading: SensorReading) -> String {
    let object: JSONValue = [
        "sensor_id": .string(reading.sensorID),
        "readings": reading.readings,
        "received_at": .number((Date().timeIntervalSince1970 * 1000).rounded()),
        "follows_gap": .bool(reading.followsGap),
    ]
    return object.description
}
