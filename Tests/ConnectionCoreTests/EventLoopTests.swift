import Foundation
import Locking
import Testing
import TestSupport
@testable import ConnectionCore

@Suite("Event loop: tasks, timers and both pollers", .timeLimit(.minutes(1)))
struct EventLoopTests {
    @Test("a long timer does not hold thousands of cancelled short ones: the heap is rebuilt, order kept")
    func timerHeapCompaction() {
        var heap = TimerHeap()
        let start = ContinuousClock.now
        heap.insert(.init(deadline: start + .seconds(600), id: 1))  // slow(600)'s timeout
        for id in UInt64(2)...10_001 {
            heap.insert(.init(deadline: start + .seconds(30) + .microseconds(Int64(id)), id: id))
            if id % 10 != 1 { heap.cancel(id) }  // most requests are answered in time
        }
        // 1,001 live of 10,001 scheduled: without a rebuild the heap would hold all 10,001.
        #expect(heap.storedCount <= 2 * 1_001 + 64, "cancelled entries are dropped: \(heap.storedCount) stored")
        #expect(heap.storedCount >= 1_001, "positive control: the live ones are all there")
        let due = heap.popDue(at: start + .seconds(31))
        #expect(due == Array(stride(from: UInt64(11), through: 10_001, by: 10)), "the live ones in deadline order")
        #expect(heap.nextDeadline() == start + .seconds(600))
    }

    @Test("the timer heap pops in deadline order (ties in scheduling order) and skips cancelled timers")
    func timerHeap() {
        var generator = SeededGenerator(seed: 7)
        var heap = TimerHeap()
        let start = ContinuousClock.now
        var model: [(ContinuousClock.Instant, UInt64)] = []
        for id in UInt64(1)...500 {
            let deadline = start + .milliseconds(Int.random(in: 0..<50, using: &generator))
            heap.insert(.init(deadline: deadline, id: id))
            model.append((deadline, id))
        }
        for id in stride(from: UInt64(3), through: 500, by: 7) {
            let wasPending = heap.cancel(id)
            #expect(wasPending)
            model.removeAll { $0.1 == id }
        }
        let again = heap.cancel(3)
        #expect(!again, "cancelling twice")
        let popped = heap.popDue(at: start + .milliseconds(25))
        let expected = model.filter { $0.0 <= start + .milliseconds(25) }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.1)
        #expect(popped == expected)
        #expect(heap.popDue(at: start + .seconds(1)).count == model.count - expected.count)
        #expect(heap.isEmpty && heap.nextDeadline() == nil)
    }

    @Test("tasks run on the loop thread in the order they were handed over", arguments: [false, true])
    func taskOrder(usePoll: Bool) async {
        let loop = EventLoop(name: "test loop", usePoll: usePoll)
        let order = LockedValue<[Int]>([])
        let onLoop = LockedValue(true)
        for index in 0..<1000 {
            loop.execute {
                order.withLock { $0.append(index) }
                if !loop.inLoop { onLoop.withLock { $0 = false } }
            }
        }
        #expect(await eventually { order.withLock { $0.count } == 1000 })
        #expect(order.withLock { $0 } == Array(0..<1000))
        #expect(onLoop.withLock { $0 })
        #expect(!loop.inLoop, "the test is not on the loop thread")
    }

    @Test("timers fire in deadline order, not before their deadline; a cancelled one never", arguments: [false, true])
    func timers(usePoll: Bool) async {
        let loop = EventLoop(name: "test loop", usePoll: usePoll)
        let fired = LockedValue<[(Int, ContinuousClock.Instant)]>([])
        let start = ContinuousClock.now
        let deadlines = [60, 20, 40, 80]
        for (index, milliseconds) in deadlines.enumerated() {
            loop.schedule(at: start + .milliseconds(milliseconds)) { fired.withLock { $0.append((index, .now)) } }
        }
        let cancelled = loop.schedule(at: start + .milliseconds(30)) { fired.withLock { $0.append((99, .now)) } }
        cancelled.cancel()
        #expect(await eventually { fired.withLock { $0.count } == 4 })
        let result = fired.withLock { $0 }
        #expect(result.map(\.0) == [1, 2, 0, 3])
        for (index, time) in result {
            #expect(time >= start + .milliseconds(deadlines[index]), "timer \(index) fired early")
        }
        // Positive control for the cancelled one: a timer at the same offset does fire.
        let control = LockedValue(false)
        loop.schedule(at: .now + .milliseconds(30)) { control.withLock { $0 = true } }
        #expect(await eventually { control.withLock { $0 } })
        #expect(!fired.withLock { $0 }.contains { $0.0 == 99 })
    }
}
