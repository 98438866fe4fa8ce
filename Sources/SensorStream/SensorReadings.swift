/// The readings of one sensor (see ``SensorClient/readings(_:)``): an AsyncSequence that
/// registers its consumer when iteration starts.
public struct SensorReadings: AsyncSequence, Sendable {
    /// Each element is one reading of the sensor.
    public typealias Element = SensorReading
    /// Never throws: the stream ends (returns nil) instead.
    public typealias Failure = Never
    let client: SensorClient
    /// The sensor whose readings this sequence delivers.
    public let sensorID: String
    /// What this stream does when its consumer falls behind.
    public let buffering: ReadingBuffering
    /// How many readings this stream buffers for a slow consumer.
    public var bufferSize: Int { buffering.limit }

    /// Starts consuming: subscribes if this is the sensor's first consumer.
    public func makeAsyncIterator() -> Iterator {
        Iterator(queue: client.engine.attachConsumer(sensorID, buffering: buffering).queue)
    }

    /// The iterator; dropping it (or cancelling its task) ends the consumer.
    ///
    /// It takes every reading buffered for it at once and hands them out one by one, so a
    /// busy consumer pays for synchronisation once per batch, not once per reading.
    public struct Iterator: AsyncIteratorProtocol {
        private let lease: ConsumerLease
        private var batch: [SensorReading] = []
        private var index = 0

        package init(queue: ReadingQueue) {
            lease = ConsumerLease(queue: queue)
        }

        /// The next reading, or nil once the stream has finished (or the task is cancelled:
        /// then at once, even with readings taken in its batch).
        public mutating func next() async -> SensorReading? {
            if let reading = nextBuffered() { return reading }
            return refill(await lease.queue.take())
        }

        /// The next reading, resuming on the caller's actor.
        /// - Parameter actor: The caller's actor (the `for await` loop passes it).
        /// - Returns: The next reading, or nil once the stream has finished.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> SensorReading? {
            if let reading = nextBuffered() { return reading }
            return refill(await lease.queue.take())
        }

        private mutating func nextBuffered() -> SensorReading? {
            guard index < batch.count, !Task.isCancelled else { return nil }
            defer { index += 1 }
            return batch[index]
        }

        private mutating func refill(_ taken: [SensorReading]?) -> SensorReading? {
            batch = taken ?? []
            index = batch.isEmpty ? 0 : 1
            return batch.first
        }
    }
}

/// Ends a consumer when its last iterator copy goes away (a `for await` loop left with
/// `break`, an iterator dropped), as `AsyncStream` does.
final class ConsumerLease: Sendable {
    let queue: ReadingQueue

    init(queue: ReadingQueue) {
        self.queue = queue
    }

    deinit {
        queue.terminate()
    }
}
