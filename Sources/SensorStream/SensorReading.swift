import ConnectionCore

/// One reading of one sensor, as delivered by ``SensorClient/readings(_:)``.
public struct SensorReading: Sendable, Hashable {
    /// The sensor that produced it.
    public let sensorID: String
    /// What the sensor reported: any JSON value.
    public let readings: JSONValue
    /// True for the first reading a stream delivers after the connection was lost and
    /// restored: readings the server sent in between are gone. Plain `for await` code may
    /// ignore it; code that integrates over readings should not.
    public let followsGap: Bool

    /// Creates a reading (tests and previews; the client makes its own).
    /// - Parameters:
    ///   - sensorID: The sensor that produced it.
    ///   - readings: What it reported.
    ///   - followsGap: Whether it is the first after a lost connection.
    public init(sensorID: String, readings: JSONValue, followsGap: Bool = false) {
        self.sensorID = sensorID
        self.readings = readings
        self.followsGap = followsGap
    }
}

/// A raw message received from the server, before any interpretation: every message,
/// including unknown events and malformed ones that the typed API skips.
public enum RawFrame: Sendable, Hashable {
    /// A text message.
    case text(String)
    /// A binary message.
    case binary([UInt8])

    /// The text, if this is a text message.
    public var text: String? { if case .text(let text) = self { text } else { nil } }
}

/// The buffer between the client's receive path and one consumer of a sensor's readings.
package typealias ReadingQueue = ConsumerQueue<SensorReading>
