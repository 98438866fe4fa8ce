import Locking
import Testing
import TestSupport
@testable import SensorStream

/// A base sequence whose elements carry a time: reading one moves the manual clock there
/// first, so time-based operators see exactly the intended timeline.
struct Timeline<Element: Sendable>: SensorStreamSequence, Sendable {
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
    func debounce() async throws {
        let clock = ManualClock()
        let source = CountingSource<Int>()
        let output = Collector(source.debounce(for: .milliseconds(300), clock: clock))
        #expect(await source.waitForDemand(1), "the first next() starts reading the base")
        source.yield(1)
        #expect(await source.waitForDemand(2), "1 was taken in before the reader asked again")
        #expect(await clock.waitForDeadlines([.milliseconds(300)]))
        clock.advance(by: .milliseconds(200))
        source.yield(2)  // moves the deadline to 500 ms: 1 is never emitted
        #expect(await source.waitForDemand(3))
        clock.advance(by: .milliseconds(100))
        #expect(await clock.waitForDeadlines([.milliseconds(500)]), "the timer woke at 300 ms and sleeps on to the new deadline")
        clock.advance(by: .milliseconds(199))
        #expect(await clock.waitForDeadlines([.milliseconds(500)]))
        #expect(output.values.isEmpty, "nothing is due 1 ms before the deadline")
        clock.advance(by: .milliseconds(1))
        #expect(await output.waitFor([2]), "positive control: due at the deadline")
        source.yield(3)
        source.finish()
        #expect(await output.waitForEnd())
        #expect(output.values == [2, 3], "the end flushes the pending element at once")
        #expect(output.failure == nil)
    }

    @Test("debounce forwards the base's error after the element pending before it")
    func debounceForwardsErrors() async throws {
        let clock = ManualClock()
        let source = CountingSource<Int>()
        let output = Collector(source.debounce(for: .seconds(1), clock: clock))
        #expect(await source.waitForDemand(1))
        source.yield(7)
        source.fail(SourceFailure())
        #expect(await output.waitForEnd())
        #expect(output.values == [7])
        #expect(output.failure is SourceFailure)
    }

    @Test("liveness reports each timeout of silence, and elements as they come")
    func liveness() async {
        let clock = ManualClock()
        let (source, input) = AsyncStream.makeStream(of: String.self)
        let output = Collector(source.liveness(timeout: .seconds(5), clock: clock))
        #expect(await clock.waitForDeadlines([.seconds(5)]))
        clock.advance(by: .seconds(5))
        #expect(await output.waitFor([.silent(since: .seconds(5))]))
        #expect(await clock.waitForDeadlines([.seconds(10)]))
        clock.advance(by: .seconds(5))
        #expect(await output.waitFor([.silent(since: .seconds(5)), .silent(since: .seconds(10))]))
        #expect(await clock.waitForDeadlines([.seconds(15)]))
        input.yield("reading")
        #expect(await output.waitFor([.silent(since: .seconds(5)), .silent(since: .seconds(10)), .element("reading")]))
        clock.advance(by: .seconds(4))
        #expect(await clock.waitForDeadlines([.seconds(15)]), "the watchdog restarted at t=10 s")
        input.yield("again")
        #expect(await output.waitFor([.silent(since: .seconds(5)), .silent(since: .seconds(10)), .element("reading"), .element("again")]))
        clock.advance(by: .seconds(1))
        #expect(await clock.waitForDeadlines([.seconds(19)]), "and again at t=14 s")
        clock.advance(by: .seconds(4))
        #expect(await output.waitFor([.silent(since: .seconds(5)), .silent(since: .seconds(10)), .element("reading"), .element("again"),
                                      .silent(since: .seconds(5))]))
        input.finish()
        #expect(await output.waitForEnd())
    }

    @Test("liveness with a slow consumer: reads the base only on demand, coalesces silences, stays in order")
    func livenessIsBounded() async throws {
        let clock = ManualClock()
        let source = CountingSource<Int>()
        var output = source.liveness(timeout: .seconds(1), clock: clock).makeAsyncIterator()
        source.yield(1)
        #expect(try await output.next() == .element(1))
        // The consumer does not ask: the reader has read 1, asked once more, and got 2; it
        // must not ask for a third element until 2 is taken.
        source.yield(2)
        #expect(await source.waitForDemand(2))
        source.yield(3)
        source.yield(4)
        #expect(await clock.waitForDeadlines([.seconds(1)]))
        clock.advance(by: .seconds(1))
        #expect(await clock.waitForDeadlines([.seconds(2)]))
        clock.advance(by: .seconds(1))
        #expect(await clock.waitForDeadlines([.seconds(3)]))
        #expect(source.demand == 2, "positive control above: demand 2 was seen; no third read while 2 waits")
        // What comes out depends on whether the reader took 2 before or after the clock moved
        // (the exact sequences are pinned down in TimedRelayStateMachineTests): 2, 3 and 4 in
        // order, and never two silences in a row.
        source.finish()
        var events: [Liveness<Int, Duration>] = []
        while let event = try await output.next() { events.append(event) }
        #expect(events.filter { if case .element = $0 { true } else { false } } == [.element(2), .element(3), .element(4)])
        let silencesInARow = zip(events, events.dropFirst()).contains { pair in
            if case .silent = pair.0, case .silent = pair.1 { true } else { false }
        }
        #expect(!silencesInARow, "\(events)")
    }

    @Test("liveness forwards the base's error; ending the consumer's task cancels the operator's task")
    func livenessErrorsAndCancellation() async throws {
        let clock = ManualClock()
        let failing = CountingSource<Int>()
        var output = failing.liveness(timeout: .seconds(1), clock: clock).makeAsyncIterator()
        failing.yield(1)
        failing.fail(SourceFailure())
        #expect(try await output.next() == .element(1))
        await #expect(throws: SourceFailure.self) { try await output.next() }
        #expect(try await output.next() == nil, "after the error the sequence is over")

        let (silent, input) = AsyncStream.makeStream(of: Int.self)
        let ended = LockedValue(false)
        input.onTermination = { _ in ended.withLock { $0 = true } }
        let delivered = LockedValue(0)
        let consumer = Task {
            for await _ in silent.liveness(timeout: .seconds(1), clock: clock) { delivered.withLock { $0 += 1 } }
        }
        #expect(await clock.waitForSleepers(1))
        input.yield(1)
        #expect(await eventually { delivered.withLock { $0 } == 1 })
        #expect(ended.withLock { $0 } == false && clock.sleeperCount == 1, "positive control: base and watchdog still running")
        consumer.cancel()
        await consumer.value
        #expect(await eventually { ended.withLock { $0 } }, "the base's iteration ended with the consumer")
        #expect(await eventually { clock.sleeperCount == 0 }, "and the watchdog's sleep too")
    }

    @Test("dropping a timed operator's iterator cancels its task")
    func droppedIteratorCancels() async throws {
        let clock = ManualClock()
        let (silent, input) = AsyncStream.makeStream(of: Int.self)
        let ended = LockedValue(false)
        input.onTermination = { _ in ended.withLock { $0 = true } }
        do {
            var iterator = silent.debounce(for: .seconds(1), clock: clock).makeAsyncIterator()
            input.yield(1)
            let value = await withTaskGroup(of: Int?.self) { group in
                group.addTask { [clock] in
                    _ = await clock.waitForDeadlines([.seconds(1)])
                    clock.advance(by: .seconds(1))
                    return nil
                }
                let value = await iterator.next()
                await group.waitForAll()
                return value
            }
            #expect(value == 1)
            #expect(ended.withLock { $0 } == false, "positive control: the base is still being read")
        }
        #expect(await eventually { ended.withLock { $0 } }, "the base's iteration ended with the iterator")
    }
}

struct SourceFailure: Error {}

/// A base sequence fed by the test that counts how often its consumer asked for an element,
/// so a test can wait for "the operator read everything so far" instead of sleeping.
final class CountingSource<Element: Sendable>: SensorStreamSequence, Sendable {
    private let stream: AsyncThrowingStream<Element, any Error>
    private let input: AsyncThrowingStream<Element, any Error>.Continuation
    private let asked = LockedValue(0)

    init() {
        (stream, input) = AsyncThrowingStream.makeStream(of: Element.self)
    }

    func yield(_ element: Element) { input.yield(element) }
    func finish() { input.finish() }
    func fail(_ error: any Error) { input.finish(throwing: error) }

    /// How many times `next()` was called.
    var demand: Int { asked.withLock { $0 } }

    func waitForDemand(_ count: Int) async -> Bool {
        await eventually { self.demand >= count }
    }

    func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator(), asked: asked) }

    struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Element, any Error>.Iterator
        let asked: LockedValue<Int>

        mutating func next() async throws -> Element? {
            asked.withLock { $0 += 1 }
            return try await base.next()
        }
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
