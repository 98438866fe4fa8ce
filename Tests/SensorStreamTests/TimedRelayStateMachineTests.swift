import Testing
@testable import SensorStream

/// The timed operators' state machine, driven event by event with plain tokens for the
/// waiters: every ordering the tasks can produce, without tasks.
@Suite("Timed operators' state machine")
struct TimedRelayStateMachineTests {
    struct Instant: InstantProtocol {
        var seconds: Int
        func advanced(by duration: Duration) -> Instant { Instant(seconds: seconds + Int(duration.components.seconds)) }
        func duration(to other: Instant) -> Duration { .seconds(other.seconds - seconds) }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.seconds < rhs.seconds }
    }

    struct Failure: Error, Equatable {}
    typealias Liveness = TimedRelayStateMachine<LivenessRule<String, Instant>, Failure, String, String, String>
    typealias Debounce = TimedRelayStateMachine<DebounceRule<String, Instant>, Failure, String, String, String>
    typealias Event = SensorStream.Liveness<String, Duration>

    static func at(_ seconds: Int) -> Instant { Instant(seconds: seconds) }

    @Test("liveness: an element waits for the consumer, the reader waits with it; silences queue behind it and coalesce")
    func livenessOrdering() throws {
        var machine = Liveness(rule: LivenessRule(timeout: .seconds(1)))
        guard case .suspended(start: true) = machine.next("consumer") else { Issue.record("first next starts"); return }
        var wakeups = machine.started(at: Self.at(0))
        #expect(wakeups.consumer == nil && wakeups.timer == nil)
        guard case .sleep(until: let first) = machine.timerWaits("timer") else { Issue.record("deadline set at start"); return }
        #expect(first == Self.at(1))

        // Element a: the consumer is waiting, so it gets it directly and the reader goes on.
        let a = machine.received("a", at: Self.at(0))
        #expect(a.mustWait == false && a.stop == false)
        #expect(a.wakeups.consumer?.0 == "consumer")
        #expect(try a.wakeups.consumer?.1.get() == .element("a"))

        // Element b: no consumer waiting: queued, and the reader must wait.
        let b = machine.received("b", at: Self.at(0))
        #expect(b.mustWait)
        #expect(machine.readerWaits("reader") == nil, "the reader is kept until b is taken")

        // Two deadlines pass: one silence behind b, replaced by the longer one.
        wakeups = machine.deadlineReached(Self.at(1))
        #expect(wakeups.consumer == nil)
        #expect(machine.deadlineReached(Self.at(1)).consumer == nil, "a stale deadline does nothing")
        _ = machine.deadlineReached(Self.at(2))

        // The consumer takes b (the reader resumes), then the coalesced silence.
        guard case .resume("c1", let first, reader: "reader") = machine.next("c1") else { Issue.record("b and the reader"); return }
        #expect(try first.get() == .element("b"))
        guard case .resume("c2", let second, reader: nil) = machine.next("c2") else { Issue.record("the silence"); return }
        #expect(try second.get() == .silent(since: .seconds(2)))

        // An element after the silence restarts the count; the consumer waits for it.
        guard case .suspended(start: false) = machine.next("c3") else { Issue.record("nothing left: waits"); return }
        let c = machine.received("c", at: Self.at(2))
        #expect(c.wakeups.consumer?.0 == "c3")
        #expect(machine.deadlineReached(Self.at(3)).consumer == nil)
        guard case .resume(_, let silence, reader: nil) = machine.next("c4") else { Issue.record("silence after c"); return }
        #expect(try silence.get() == .silent(since: .seconds(1)))
    }

    @Test("liveness: silence, element, silence stay in that order (only the last silence is replaceable)")
    func livenessSilenceElementSilence() throws {
        var machine = Liveness(rule: LivenessRule(timeout: .seconds(1)))
        _ = machine.next("consumer")
        _ = machine.started(at: Self.at(0))
        #expect(try machine.deadlineReached(Self.at(1)).consumer?.1.get() == .silent(since: .seconds(1)))
        _ = machine.received("a", at: Self.at(1))  // no consumer: queued
        _ = machine.deadlineReached(Self.at(2))
        _ = machine.deadlineReached(Self.at(3))
        var taken: [Event] = []
        while case .resume(_, let result, _) = machine.next("c"), let event = try result.get() { taken.append(event) }
        #expect(taken == [.element("a"), .silent(since: .seconds(2))])
    }

    @Test("debounce: only the last element before a quiet deadline; the end flushes; an error follows the flush")
    func debounce() throws {
        var machine = Debounce(rule: DebounceRule(interval: .seconds(1)))
        _ = machine.next("consumer")
        _ = machine.started(at: Self.at(0))
        guard case .suspended = machine.timerWaits("timer") else { Issue.record("no deadline before an element"); return }
        let a = machine.received("a", at: Self.at(0))
        #expect(a.wakeups.timer?.0 == "timer" && a.wakeups.timer?.1 == Self.at(1), "the first deadline wakes the timer")
        #expect(!a.mustWait, "debounce never holds its reader")
        _ = machine.received("b", at: Self.at(0))
        #expect(machine.deadlineReached(Self.at(0)).consumer == nil, "not the current deadline")
        let due = machine.deadlineReached(Self.at(1))
        #expect(due.consumer?.0 == "consumer")
        #expect(try due.consumer?.1.get() == "b")

        _ = machine.received("c", at: Self.at(5))
        let ended = machine.baseEnded(.failure(Failure()))
        #expect(ended.consumer == nil, "nobody waits")
        guard case .resume(_, let flushed, _) = machine.next("c1") else { Issue.record("flush"); return }
        #expect(try flushed.get() == "c")
        guard case .resume(_, let failed, _) = machine.next("c2") else { Issue.record("error"); return }
        #expect(throws: Failure.self) { try failed.get() }
        guard case .resume(_, let after, _) = machine.next("c3") else { Issue.record("end"); return }
        #expect(try after.get() == nil)
        guard case .stop = machine.timerWaits("timer") else { Issue.record("the timer stops after the end"); return }
    }

    @Test("cancel hands back every waiter, and nothing is delivered after it")
    func cancel() throws {
        var machine = Liveness(rule: LivenessRule(timeout: .seconds(1)))
        _ = machine.next("consumer")
        _ = machine.started(at: Self.at(0))
        _ = machine.received("a", at: Self.at(0))
        _ = machine.received("b", at: Self.at(0))
        _ = machine.readerWaits("reader")
        guard case .resume = machine.next("c1") else { Issue.record("b is there"); return }
        _ = machine.received("c", at: Self.at(0))
        _ = machine.readerWaits("reader2")
        guard case .sleep = machine.timerWaits("timer") else { Issue.record("deadline"); return }
        let (consumer, reader, timer) = machine.cancel()
        #expect(consumer == nil && reader == "reader2" && timer == nil)
        guard case .resume(_, let result, _) = machine.next("c2") else { Issue.record("ended"); return }
        #expect(try result.get() == nil, "the queued c is dropped with the iteration")
        #expect(machine.received("d", at: Self.at(0)).stop)
    }
}
