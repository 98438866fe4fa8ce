import Testing
@testable import ConnectionCore

@Suite("Reconnect state machine: every decision without sockets or clocks")
struct ReconnectMachineTests {
    typealias Machine = ReconnectMachine<String>
    static let backoff = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(1), multiplier: 2, jitter: 0.2, maxAttempts: 5)

    func connected() -> Machine {
        var machine = Machine(backoff: Self.backoff) { "gave up after \($0)" }
        _ = machine.handle(.start)
        _ = machine.handle(.opened)
        return machine
    }

    @Test("the app's connect: open attempt 0, then replay (not a reconnect), publish connected, serve")
    func firstConnect() {
        var machine = Machine(backoff: Self.backoff)
        #expect(machine.handle(.start) == [.publish(.connecting(attempt: 0)), .open(attempt: 0)])
        #expect(machine.handle(.opened) == [.replaySession(isReconnect: false), .publish(.connected), .serve])
        #expect(machine.state == .connected)
    }

    @Test("a failed first connect goes back to idle and is not retried; a loss after a connect is")
    func firstConnectFails() {
        var machine = Machine(backoff: Self.backoff)
        _ = machine.handle(.start)
        #expect(machine.handle(.openFailed("refused")) == [.publish(.idle), .failStart("refused")])
        #expect(machine.state == .idle)
        // Positive control: the same failure after a successful connect backs off and retries.
        _ = machine.handle(.start)
        _ = machine.handle(.opened)
        _ = machine.handle(.lost("reset"))
        #expect(machine.handle(.timerFired) == [.publish(.connecting(attempt: 1)), .open(attempt: 1)])
        let actions = machine.handle(.openFailed("refused"), unitRandom: 0.5)
        #expect(actions == [.publish(.backingOff(attempt: 2, delay: .milliseconds(200), reason: "refused")), .startTimer(.milliseconds(200))])
    }

    @Test("retryingFirstConnect: a failed first attempt backs off like a loss instead of failing the start")
    func retryingFirstConnect() {
        var machine = Machine(backoff: Self.backoff, retryingFirstConnect: true)
        _ = machine.handle(.start)
        #expect(machine.handle(.openFailed("refused"), unitRandom: 0.5)
                == [.publish(.backingOff(attempt: 1, delay: .milliseconds(100), reason: "refused")), .startTimer(.milliseconds(100))])
        #expect(machine.handle(.timerFired) == [.publish(.connecting(attempt: 1)), .open(attempt: 1)])
        #expect(machine.handle(.opened) == [.replaySession(isReconnect: true), .publish(.connected), .serve])
    }

    @Test("losses back off exponentially to the cap, spread by the jitter, and give up after maxAttempts")
    func backoffSchedule() {
        var machine = connected()
        var delays: [Duration] = []
        var actions = machine.handle(.lost("close 1006"), unitRandom: 0.5)
        while case .startTimer(let delay)? = actions.last {
            delays.append(delay)
            #expect(machine.handle(.timerFired).last == .open(attempt: delays.count))
            actions = machine.handle(.openFailed("refused"), unitRandom: 0.5)
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1)])
        #expect(actions == [.publish(.closed(reason: "gave up after refused")), .giveUp("gave up after refused")])
        #expect(machine.state == .closed(reason: "gave up after refused"))
        // Jitter: the random value spreads the delay by at most ±20 %.
        var low = connected(), high = connected()
        #expect(low.handle(.lost("x"), unitRandom: 0).last == .startTimer(.milliseconds(80)))
        #expect(high.handle(.lost("x"), unitRandom: 1).last == .startTimer(.milliseconds(120)))
    }

    @Test("a fixed delay repeats without growth or jitter")
    func fixedDelay() {
        var machine = ReconnectMachine<String>(backoff: .fixed(.seconds(2), maxAttempts: 2))
        _ = machine.handle(.start)
        _ = machine.handle(.opened)
        #expect(machine.handle(.lost("a"), unitRandom: 0).last == .startTimer(.seconds(2)))
        _ = machine.handle(.timerFired)
        #expect(machine.handle(.openFailed("b"), unitRandom: 1).last == .startTimer(.seconds(2)))
        _ = machine.handle(.timerFired)
        #expect(machine.handle(.openFailed("c")).last == .giveUp("c"))
    }

    @Test("a failed liveness probe drops the connection; the loss that follows carries its reason")
    func liveness() {
        var machine = connected()
        #expect(machine.handle(.livenessFailed("no pong within 10 s")) == [.dropConnection])
        #expect(machine.state == .connected)
        let actions = machine.handle(.lost("close 1006: connection lost"), unitRandom: 0.5)
        #expect(actions.first == .publish(.backingOff(attempt: 1, delay: .milliseconds(100), reason: "no pong within 10 s")))
        // The next connection's losses are reported as they are.
        _ = machine.handle(.timerFired)
        _ = machine.handle(.opened)
        #expect(machine.handle(.lost("close 1001"), unitRandom: 0.5).first
                == .publish(.backingOff(attempt: 1, delay: .milliseconds(100), reason: "close 1001")))
    }

    @Test("close from every state: terminal, a pending timer cancelled, an open connection dropped")
    func closeFromEveryState() {
        var idle = Machine(backoff: Self.backoff)
        #expect(idle.handle(.closeRequested("bye")) == [.publish(.closed(reason: "bye")), .dropConnection])
        var connecting = Machine(backoff: Self.backoff)
        _ = connecting.handle(.start)
        #expect(connecting.handle(.closeRequested("bye")) == [.publish(.closed(reason: "bye")), .dropConnection])
        // A connection that opens after close is dropped, not served.
        #expect(connecting.handle(.opened) == [.dropConnection])
        var open = connected()
        #expect(open.handle(.closeRequested("bye")) == [.publish(.closed(reason: "bye")), .dropConnection])
        var waiting = connected()
        _ = waiting.handle(.lost("x"))
        #expect(waiting.handle(.closeRequested("bye")) == [.cancelTimer, .publish(.closed(reason: "bye"))])
        // Closed is terminal: nothing moves it.
        for event: Machine.Event in [.start, .lost("x"), .timerFired, .openFailed("x"), .livenessFailed("x"), .closeRequested("again")] {
            #expect(waiting.handle(event) == [])
        }
        #expect(waiting.state == .closed(reason: "bye"))
    }

    @Test("backoff delays never trap: a huge maximum or multiplier is clamped, a negative initial delay is zero")
    func backoffClamps() {
        let huge = Backoff(initialDelay: .seconds(1), maxDelay: .seconds(Int64.max), multiplier: 1e300, jitter: 0.5, maxAttempts: nil)
        for attempt in [1, 2, 10, 64, 1_000_000] {
            for random in [0.0, 0.5, 1.0] {
                let delay = huge.delay(beforeAttempt: attempt, unitRandom: random)
                #expect(delay != nil && delay! >= .zero && delay! <= .nanoseconds(Int64.max), "attempt \(attempt): \(String(describing: delay))")
            }
        }
        #expect(huge.delay(beforeAttempt: 1, unitRandom: 0.5) == .seconds(1), "positive control: small delays are exact")
        #expect(huge.delay(beforeAttempt: 100, unitRandom: 0.5) == .nanoseconds(Int64.max))
        let negative = Backoff(initialDelay: .seconds(-5), maxDelay: .seconds(10), multiplier: 2, jitter: 0, maxAttempts: nil)
        #expect(negative.delay(beforeAttempt: 3, unitRandom: 0.5) == .zero)
    }

    @Test("every event in every state: a transition publishes the new state once (after only a session replay or a timer cancel); a stale event does nothing; the impossible ones are exactly the listed")
    func exhaustive() {
        let events: [Machine.Event] = [.start, .opened, .openFailed("f"), .lost("l"), .livenessFailed("p"), .timerFired, .closeRequested("c")]
        // Reach every state by a path of events, then apply every event to it.
        let paths: [[Machine.Event]] = [[], [.start], [.start, .opened], [.start, .opened, .lost("l")],
                                        [.start, .opened, .lost("l"), .timerFired], [.closeRequested("c")]]
        // What a driver can never feed (it runs one action at a time), by state.
        let impossible: [String: Set<String>] = [
            "idle": ["opened", "openFailed", "lost", "timerFired"],
            "connecting": ["lost", "timerFired"],
            "connected": ["opened", "openFailed", "timerFired"],
            "backingOff": ["opened", "openFailed", "lost"],
            "closed": [],
        ]
        var reached: Set<String> = []
        for path in paths {
            for event in events {
                var machine = Machine(backoff: Self.backoff)
                for step in path { _ = machine.handle(step) }
                let before = machine.state
                let stateName = Self.name(of: before)
                reached.insert(stateName)
                let fit = machine.fit(of: event)
                let listedImpossible = impossible[stateName]?.contains(Self.name(of: event)) ?? false
                #expect((fit == .impossible) == listedImpossible, "\(before) + \(event): \(fit)")
                guard fit != .impossible else { continue }
                let actions = machine.handle(event, unitRandom: 0.5)
                if fit == .stale {
                    #expect(actions.isEmpty && machine.state == before, "\(before) + \(event): stale, yet \(actions)")
                } else if machine.state != before {
                    let publishes = actions.indices.filter { if case .publish = actions[$0] { true } else { false } }
                    #expect(publishes.count == 1 && actions[publishes[0]] == .publish(machine.state),
                            "\(before) + \(event): the new state is published once: \(actions)")
                    let beforePublish = actions.prefix(publishes.first ?? 0)
                    #expect(beforePublish.allSatisfy { if case .replaySession = $0 { true } else { $0 == .cancelTimer } },
                            "\(before) + \(event): only a replay or a timer cancel comes before the publish: \(actions)")
                } else {
                    #expect(!actions.isEmpty, "\(before) + \(event): handled, yet no action")
                    #expect(!actions.contains { if case .publish = $0 { true } else { false } }, "\(before) + \(event): published without a change")
                }
            }
        }
        #expect(reached == Set(impossible.keys), "every state was reached: \(reached)")
    }

    private static func name(of state: Machine.State) -> String {
        switch state {
        case .idle: "idle"
        case .connecting: "connecting"
        case .connected: "connected"
        case .backingOff: "backingOff"
        case .closed: "closed"
        }
    }

    private static func name(of event: Machine.Event) -> String {
        switch event {
        case .start: "start"
        case .opened: "opened"
        case .openFailed: "openFailed"
        case .lost: "lost"
        case .livenessFailed: "livenessFailed"
        case .timerFired: "timerFired"
        case .closeRequested: "closeRequested"
        }
    }
}
