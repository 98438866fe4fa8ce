import SensorStream
import WebSocketCore
import SensorWire

/// The client's receive path without sockets, one stage added at a time, so the cost of each
/// is the difference between two lines: bytes -> frames -> text -> server message ->
/// per-sensor routing -> an AsyncStream consumer (one element per reading, or batches of 64).
enum Pipeline {
    enum Stage: String, CaseIterable {
        case frames = "frames + UTF-8 + String"
        case decode = "+ decode ServerMessage"
        case route = "+ per-sensor routing -> SensorReading"
        case streamPerElement = "+ AsyncStream, one element per reading"
        case streamBatched = "+ AsyncStream, batches of 64"
        case readingQueue = "+ ReadingQueue, woken once per read"
    }

    /// Runs `stage` over `stream` (unmasked server frames); returns readings per second.
    static func run(_ stage: Stage, stream: [UInt8]) async -> (rate: Double, readings: Int) {
        switch stage {
        case .frames, .decode, .route:
            let start = ContinuousClock.now
            var count = 0
            produce(stream, stage: stage) { _ in count += 1 }
            return (Double(count) / (ContinuousClock.now - start).secondsValue, count)
        case .streamPerElement:
            let (readings, continuation) = AsyncStream.makeStream(of: SensorReading.self, bufferingPolicy: .unbounded)
            let consumer = Task.detached { () -> Int in
                var count = 0
                for await reading in readings where reading.sensorID.utf8.count > 0 { count += 1 }
                return count
            }
            let start = ContinuousClock.now
            await Task.detached {
                produce(stream, stage: stage) { continuation.yield($0) }
                continuation.finish()
            }.value
            let count = await consumer.value
            return (Double(count) / (ContinuousClock.now - start).secondsValue, count)
        case .streamBatched:
            let (batches, continuation) = AsyncStream.makeStream(of: [SensorReading].self, bufferingPolicy: .unbounded)
            let consumer = Task.detached { () -> Int in
                var count = 0
                for await batch in batches {
                    for reading in batch where reading.sensorID.utf8.count > 0 { count += 1 }
                }
                return count
            }
            let start = ContinuousClock.now
            await Task.detached {
                var batch: [SensorReading] = []
                batch.reserveCapacity(64)
                produce(stream, stage: stage) { reading in
                    batch.append(reading)
                    if batch.count == 64 {
                        continuation.yield(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                if !batch.isEmpty { continuation.yield(batch) }
                continuation.finish()
            }.value
            let count = await consumer.value
            return (Double(count) / (ContinuousClock.now - start).secondsValue, count)
        case .readingQueue:
            let queue = ReadingQueue(capacity: 1 << 20)
            let consumer = Task.detached { () -> Int in
                var count = 0
                var readings = SensorReadings.Iterator(queue: queue)
                while let reading = await readings.next() {
                    if reading.sensorID.utf8.count > 0 { count += 1 }
                }
                return count
            }
            let start = ContinuousClock.now
            await Task.detached {
                // As the client does: readings of one read are pushed, then the consumer woken.
                var wake: ReadingQueue.Waiter?
                produce(stream, stage: stage, deliver: { reading in
                    if let waiter = queue.push(reading).wake { wake = waiter }
                }, endOfChunk: {
                    wake?.resume()
                    wake = nil
                })
                queue.finish().resume()
            }.value
            let count = await consumer.value
            return (Double(count) / (ContinuousClock.now - start).secondsValue, count)
        }
    }

    /// Decodes `stream` in 16 KiB chunks up to `stage`, calling `deliver` per reading.
    static func produce(_ stream: [UInt8], stage: Stage, deliver: (SensorReading) -> Void, endOfChunk: () -> Void = {}) {
        var decoder = FrameDecoder(role: .client, maxFrameSize: 1 << 20)
        var assembler = MessageAssembler(maxMessageSize: 1 << 20)
        var routes: [String: Int] = [:]
        for node in 0..<10 { for sensor in 0..<7 { routes["A0\(node)-S\(sensor)"] = node * 7 + sensor } }
        let placeholder = SensorReading(sensorID: "", readings: .null, followsGap: false)
        feedInChunks(stream) { input in
            var cursor = 0
            while let part = try? decoder.nextPart(in: input, cursor: &cursor) {
                guard case .text(let payload)? = try? assembler.consume(part) else { continue }
                let text = payload.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
                guard stage != .frames else {
                    deliver(placeholder)
                    continue
                }
                guard case .sensorData(let sensorID, let readings)? = ServerMessage.decode(text) else { continue }
                guard stage != .decode else {
                    deliver(placeholder)
                    continue
                }
                guard routes[sensorID] != nil else { continue }
                deliver(SensorReading(sensorID: sensorID, readings: readings, followsGap: false))
            }
            endOfChunk()
        }
    }
}
