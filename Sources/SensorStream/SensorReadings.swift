/// The readings of one sensor (see ``SensorClient/readings(_:)``): an AsyncSequence that
/// registers its consumer when iteration starts.
public struct SensorReadings: AsyncSequence, Sendable {
    public typealias Element = SensorReading
    let client: SensorClient
    /// The sensor whose readings this sequence delivers.
    public let sensorID: String
    /// How many readings this stream buffers for a slow consumer before dropping the oldest.
    public let bufferSize: Int

    /// Starts consuming: subscribes if this is the sensor's first consumer.
    public func makeAsyncIterator() -> Iterator {
        Iterator(base: client.attachConsumer(sensorID, bufferSize: bufferSize).0.makeAsyncIterator())
    }

    /// The iterator; dropping it (or cancelling its task) ends the consumer.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<SensorReading>.Iterator

        /// The next reading, or nil once the stream has finished.
        public mutating func next() async -> SensorReading? {
            await base.next()
        }

        /// The next reading, on the caller's actor.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> SensorReading? {
            await base.next(isolation: actor)
        }
    }
}
