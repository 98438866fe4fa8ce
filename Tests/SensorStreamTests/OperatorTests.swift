import Locking
import Testing
import TestSupport
@testable import SensorStream

/// A base sequence whose elements carry a time: reading one moves the manual clock there
/// first, so time-based operators see exactly the intended timeline.
struct Timeline<Element: Sendable>: AsyncSequence, Sendable {
    let clock: ManualClock
    let events: [(at: Duration, element: Element)]

    func makeAsyncIterator() -> Iterator { Iterator(clock: clock, events: events[...]) }

    struct Iterator: AsyncIteratorProtocol {
        let clock: ManualClock
        var events: ArraySlice<(at: Duration, element: Element)>
        mutating func next() async -> Element? {
            guard let event = events.popFirst() else { return nil }
            clock.advance(by: event.at - clock.now.offset)
            return event.element
        }
    }
}

@Suite("Operators and backoff on a manual clock", .timeLimit(.minutes(1)))
struct OperatorTests {
    @Test("backoff grows by the multiplier, caps, spreads by the jitter and stops at maxAttempts")
    func backoff() {
        let policy = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(1), multiplier: 2, jitter: 0.2, maxAttempts: 6)
        let plain = (1...6).map { policy.delay(beforeAttempt: $0, unitRandom: 0.5) }
        #expect(plain == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(policy.delay(beforeAttempt: 1, unitRandom: 0) == .milliseconds(80))
        #expect(policy.delay(beforeAttempt: 1, unitRandom: 1) == .milliseconds(120))
        #expect(policy.delay(beforeAttempt: 7, unitRandom: 0.5) == nil)
        let unlimited = SensorClient.Reconnect().backoff
        #expect(unlimited.delay(beforeAttempt: 1000, unitRandom: 0.5) == .seconds(30))
        #expect(SensorClient.Reconnect.disabled.backoff.delay(beforeAttempt: 1, unitRandom: 0.5) == nil)
    }

    @Test("withRetry waits the backoff delays between failures and returns the first success")
    func retry() async throws {
        let clock = ManualClock()
        let attempts = LockedValue<[Int]>([])
        struct Flaky: Error {}
        let policy = Backoff(initialDelay: .seconds(1), maxDelay: .seconds(10), multiplier: 3, jitter: 0, maxAttempts: nil)
        let task = Task {
            try await withRetry(policy, clock: clock) { attempt in
                attempts.withLock { $0.append(attempt) }
                if attempt < 2 { throw Flaky() }
                return "ok after \(attempt)"
            }
        }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .milliseconds(999))
        #expect(attempts.withLock { $0 } == [0])
        clock.advance(by: .milliseconds(1))
        #expect(await eventually { attempts.withLock { $0 } == [0, 1] })
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(3))
        #expect(try await task.value == "ok after 2")

        let limited = Backoff(initialDelay: .seconds(1), maxDelay: .seconds(1), multiplier: 1, jitter: 0, maxAttempts: 1)
        let failing = Task { try await withRetry(limited, clock: clock) { _ -> Int in throw Flaky() } }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(1))
        await #expect(throws: Flaky.self) { try await failing.value }
    }

    @Test("removeDuplicates drops consecutive repeats only")
    func removeDuplicates() async throws {
        let values = try await [1, 1, 2, 2, 2, 3, 1, 1].async.removeDuplicates().collectAll()
        #expect(values == [1, 2, 3, 1])
    }

    @Test("throttle keeps the latest (or the first) element of each window")
    func throttle() async throws {
        let timeline: [(at: Duration, element: Int)] = [(.zero, 1), (.milliseconds(100), 2), (.milliseconds(250), 3),
                                                        (.milliseconds(350), 4), (.milliseconds(400), 5), (.milliseconds(700), 6)]
        let clockA = ManualClock()
        let latest = try await Timeline(clock: clockA, events: timeline).throttle(for: .milliseconds(300), clock: clockA, latest: true).collectAll()
        #expect(latest == [1, 4, 6])
        let clockB = ManualClock()
        let first = try await Timeline(clock: clockB, events: timeline).throttle(for: .milliseconds(300), clock: clockB, latest: false).collectAll()
        #expect(first == [1, 2, 5])
    }

    @Test("debounce emits after a quiet interval, restarts on each element, flushes at the end")
    func debounce() async {
        let clock = ManualClock()
        let (source, input) = AsyncStream.makeStream(of: Int.self)
        var output = source.debounce(for: .milliseconds(300), clock: clock).makeAsyncIterator()
        input.yield(1)
        #expect(await clock.waitForDeadlines([.milliseconds(300)]))
        clock.advance(by: .milliseconds(200))
        input.yield(2)  // restarts the timer: 1 is never emitted
        #expect(await clock.waitForDeadlines([.milliseconds(500)]))
        clock.advance(by: .milliseconds(299))
        clock.advance(by: .milliseconds(1))
        #expect(await output.next() == 2)
        input.yield(3)
        input.finish()
        #expect(await output.next() == 3)
        #expect(await output.next() == nil)
    }

    @Test("liveness reports each timeout of silence, and elements as they come")
    func liveness() async {
        let clock = ManualClock()
        let (source, input) = AsyncStream.makeStream(of: String.self)
        var output = source.liveness(timeout: .seconds(5), clock: clock).makeAsyncIterator()
        #expect(await clock.waitForDeadlines([.seconds(5)]))
        clock.advance(by: .seconds(5))
        #expect(await output.next() == .silent(since: .seconds(5)))
        #expect(await clock.waitForDeadlines([.seconds(10)]))
        clock.advance(by: .seconds(5))
        #expect(await output.next() == .silent(since: .seconds(10)))
        #expect(await clock.waitForDeadlines([.seconds(15)]))
        input.yield("reading")
        #expect(await output.next() == .element("reading"))
        #expect(await clock.waitForDeadlines([.seconds(15)]), "re-armed at t=10 s")
        clock.advance(by: .seconds(4))
        input.yield("again")
        #expect(await output.next() == .element("again"))
        #expect(await clock.waitForDeadlines([.seconds(19)]))
        clock.advance(by: .seconds(4))
        clock.advance(by: .seconds(1))
        #expect(await output.next() == .silent(since: .seconds(5)), "the watchdog restarted at the last element")
        input.finish()
        #expect(await output.next() == nil)
    }
}

extension Array where Element: Sendable {
    /// The array as an AsyncSequence.
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}

extension AsyncSequence {
    func collectAll() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
