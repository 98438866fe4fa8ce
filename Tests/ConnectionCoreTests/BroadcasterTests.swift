import Locking
import Testing
import TestSupport
@testable import ConnectionCore

@Suite("Broadcaster: ordered fan-out without yielding under a lock", .timeLimit(.minutes(1)))
struct BroadcasterTests {
    @Test("values enqueued under a foreign lock from many threads arrive in that lock's order, everywhere")
    func orderUnderContention() async throws {
        let broadcaster = Broadcaster<Int>(bufferingNewest: 100_000)
        let first = broadcaster.makeStream(), second = broadcaster.makeStream()
        let ownerLock = LockedValue(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<2_500 {
                        ownerLock.withLock { counter in
                            counter += 1
                            broadcaster.enqueue(counter)   // only records: safe under the owner's lock
                        }
                        broadcaster.deliver()
                    }
                }
            }
        }
        broadcaster.finish()
        var received: [[Int]] = []
        for stream in [first, second] {
            var values: [Int] = []
            for await value in stream { values.append(value) }
            received.append(values)
        }
        #expect(received[0] == Array(1...10_000))
        #expect(received[1] == received[0])
        #expect(broadcaster.dropped == 0)
    }

    @Test("a new listener gets its initial value first and nothing enqueued before it registered")
    func initialValue() async {
        let broadcaster = Broadcaster<String>(bufferingNewest: 10)
        let early = broadcaster.makeStream(initial: "idle")
        broadcaster.enqueue("connecting")
        let late = broadcaster.makeStream(initial: "connecting")
        broadcaster.enqueue("connected")
        broadcaster.finish()
        #expect(await Array(early) == ["idle", "connecting", "connected"])
        #expect(await Array(late) == ["connecting", "connected"])
        // After the end, a new listener gets its initial value and finishes at once.
        #expect(await Array(broadcaster.makeStream(initial: "disconnected")) == ["disconnected"])
    }

    @Test("a full listener loses its oldest values, counted; a listener that keeps up loses none")
    func dropsCounted() async {
        let broadcaster = Broadcaster<Int>(bufferingNewest: 3)
        let slow = broadcaster.makeStream()
        for value in 1...10 { broadcaster.yield(value) }
        broadcaster.finish()
        #expect(await Array(slow) == [8, 9, 10])
        #expect(broadcaster.dropped == 7)
    }

    @Test("a listener that goes away is forgotten")
    func termination() async {
        let broadcaster = Broadcaster<Int>(bufferingNewest: 3)
        var stream: AsyncStream<Int>? = broadcaster.makeStream()
        #expect(broadcaster.listenerCount == 1)
        stream = nil
        _ = stream
        #expect(await eventually { broadcaster.listenerCount == 0 })
    }
}

extension Array {
    init<S: AsyncSequence>(_ sequence: S) async where S.Element == Element, S.Failure == Never {
        var values: [Element] = []
        for await value in sequence { values.append(value) }
        self = values
    }
}
