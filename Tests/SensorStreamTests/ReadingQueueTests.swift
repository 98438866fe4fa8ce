import Locking
import Testing
import TestSupport
@testable import SensorStream

/// The per-consumer buffer on its own: bounded, oldest dropped, batches, end and cancellation.
@Suite("Reading queue", .timeLimit(.minutes(1)))
struct ReadingQueueTests {
    static func reading(_ seq: Int) -> SensorReading {
        SensorReading(sensorID: "A01-S1", readings: ["seq": .number(Double(seq))])
    }

    static func sequence(_ readings: [SensorReading]?) -> [Int]? {
        readings?.map { $0.readings["seq"]?.intValue ?? -1 }
    }

    @Test("keeps the newest `capacity` readings, reports each drop, and hands everything over in one batch")
    func boundedBatches() async {
        let queue = ReadingQueue(capacity: 3)
        var drops: [Bool] = []
        for seq in 0..<5 { drops.append(queue.push(Self.reading(seq)).dropped) }
        #expect(drops == [false, false, false, true, true])
        #expect(Self.sequence(await queue.take()) == [2, 3, 4])
        for seq in 5..<7 { _ = queue.push(Self.reading(seq)) }
        #expect(Self.sequence(await queue.take()) == [5, 6])
    }

    @Test("a waiting consumer is handed back to the pusher to wake, once; it then gets the readings")
    func wakesWaitingConsumer() async {
        let queue = ReadingQueue(capacity: 10)
        let taken = Task { await queue.take() }
        #expect(await eventually { queue.isConsumerWaiting })
        let wake = queue.push(Self.reading(0)).wake
        #expect(wake != nil, "the waiting consumer is handed back")
        #expect(queue.push(Self.reading(1)).wake == nil, "only the first push after waiting wakes")
        wake?.resume()
        #expect(Self.sequence(await taken.value) == [0, 1])
    }

    @Test("finish delivers what is buffered, then the end; the termination handler runs once")
    func finish() async {
        let queue = ReadingQueue(capacity: 10)
        let terminations = LockedValue(0)
        queue.setOnTermination { terminations.withLock { $0 += 1 } }
        _ = queue.push(Self.reading(0))
        queue.finish().resume()
        let late = queue.push(Self.reading(1))
        #expect(!late.dropped && late.wake == nil, "nothing is accepted after finish")
        #expect(Self.sequence(await queue.take()) == [0])
        #expect(await queue.take() == nil)
        #expect(await queue.take() == nil)
        #expect(terminations.withLock { $0 } == 1)
    }

    @Test("cancelling a waiting consumer ends it and runs the termination handler")
    func cancellation() async {
        let queue = ReadingQueue(capacity: 10)
        let terminations = LockedValue(0)
        queue.setOnTermination { terminations.withLock { $0 += 1 } }
        let taken = Task { await queue.take() }
        #expect(await eventually { queue.isConsumerWaiting })
        taken.cancel()
        #expect(await taken.value == nil)
        #expect(terminations.withLock { $0 } == 1)
        #expect(queue.push(Self.reading(0)).wake == nil, "a terminated queue takes nothing")
    }

    @Test("dropping the last iterator copy ends the consumer, as with AsyncStream")
    func droppedIterator() async {
        let queue = ReadingQueue(capacity: 10)
        let terminations = LockedValue(0)
        queue.setOnTermination { terminations.withLock { $0 += 1 } }
        do {
            var iterator = SensorReadings.Iterator(queue: queue)
            _ = queue.push(Self.reading(7))
            #expect(await iterator.next()?.readings["seq"]?.intValue == 7)
        }
        #expect(terminations.withLock { $0 } == 1)
    }

    @Test("lossless: a full queue drops nothing, has no room, and the waiting producer goes on when the consumer takes")
    func losslessWaitsForRoom() async {
        let queue = ReadingQueue(capacity: 2, lossless: true)
        #expect(queue.hasRoom)
        _ = queue.push(Self.reading(0))
        _ = queue.push(Self.reading(1))
        #expect(!queue.hasRoom, "full at capacity")
        let producer = Task { await queue.waitForRoom() }
        #expect(await eventually { queue.isProducerWaiting }, "the producer waits while it is full")
        #expect(Self.sequence(await queue.take()) == [0, 1], "nothing was dropped")
        await producer.value
        #expect(queue.hasRoom && !queue.isProducerWaiting)
        #expect(queue.push(Self.reading(2)).dropped == false)
        await queue.waitForRoom()  // room: returns at once
        #expect(Self.sequence(await queue.take()) == [2])
    }

    @Test("lossless: finish, termination and a cancelled consumer each release a waiting producer")
    func losslessReleases() async {
        for ending in ["finish", "terminate", "cancelled consumer"] {
            let queue = ReadingQueue(capacity: 1, lossless: true)
            _ = queue.push(Self.reading(0))
            let producer = Task { await queue.waitForRoom() }
            #expect(await eventually { queue.isProducerWaiting }, "\(ending): positive control, the producer waits")
            switch ending {
            case "finish":
                queue.finish().resume()
            case "terminate":
                queue.terminate()
            default:
                // A consumer whose task is cancelled gets the end at once, buffered readings or not.
                let consumer = Task { () -> [SensorReading]? in
                    withUnsafeCurrentTask { $0?.cancel() }
                    return await queue.take()
                }
                #expect(await consumer.value == nil)
            }
            await producer.value
            #expect(queue.hasRoom, "\(ending): nothing to wait for any more")
        }
    }

    @Test("lossless: cancelling the producer's task ends its wait")
    func losslessProducerCancellation() async {
        let queue = ReadingQueue(capacity: 1, lossless: true)
        _ = queue.push(Self.reading(0))
        let producer = Task { await queue.waitForRoom() }
        #expect(await eventually { queue.isProducerWaiting })
        producer.cancel()
        await producer.value
        #expect(!queue.isProducerWaiting && !queue.hasRoom, "released by the cancellation, not by room")
    }
}
