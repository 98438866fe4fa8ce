import Locking
import Testing
import TestSupport
@testable import ConnectionCore

/// A connection that ends when the test says so and answers probes when told to.
final class FakeConnection: Sendable {
    let number: Int
    private let state = LockedValue<(ended: Bool, waiters: [CheckedContinuation<Void, Never>], answering: Bool, probes: Int)>((false, [], true, 0))

    init(number: Int) { self.number = number }

    var isEnded: Bool { state.withLock { $0.ended } }
    var probes: Int { state.withLock { $0.probes } }
    func stopAnswering() { state.withLock { $0.answering = false } }

    func end() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.ended = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until ``end()``.
    func untilEnded() async {
        await withCheckedContinuation { continuation in
            let ended = state.withLock { state -> Bool in
                if state.ended { return true }
                state.waiters.append(continuation)
                return false
            }
            if ended { continuation.resume() }
        }
    }

    /// A probe: answered at once, or only when the connection ends (then false).
    func probe() async -> Bool {
        let answering = state.withLock { state -> Bool in
            state.probes += 1
            return state.answering && !state.ended
        }
        if answering { return true }
        await untilEnded()
        return false
    }
}

/// Records what the driver did through its hooks.
final class HookLog: Sendable {
    private let entries = LockedValue<[String]>([])
    let connections = LockedValue<[FakeConnection]>([])
    /// Which attempts fail to open.
    let failing = LockedValue<Set<Int>>([])

    var lines: [String] { entries.withLock { $0 } }
    func add(_ line: String) { entries.withLock { $0.append(line) } }

    func hooks() -> Reconnector<FakeConnection, String>.Hooks {
        .init(
            open: { attempt in
                self.add("open \(attempt)")
                if self.failing.withLock({ $0.contains(attempt) }) {
                    return .failure(.init(reason: "refused \(attempt)", detail: CancellationError()))
                }
                let connection = self.connections.withLock { list -> FakeConnection in
                    list.append(FakeConnection(number: list.count))
                    return list[list.count - 1]
                }
                return .success(connection)
            },
            replaySession: { connection, isReconnect in self.add("replay #\(connection.number) reconnect=\(isReconnect)") },
            serve: { connection in
                await connection.untilEnded()
                return "lost #\(connection.number)"
            },
            drop: { connection in
                self.add("drop #\(connection.number)")
                connection.end()
            },
            publish: { state in self.add("state \(state)") },
            giveUp: { reason in self.add("give up: \(reason)") })
    }
}

@Suite("Reconnector: the machine's actions carried out on a manual clock", .timeLimit(.minutes(1)))
struct ReconnectorTests {
    static let backoff = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(1), multiplier: 2, jitter: 0, maxAttempts: 3)

    func makeDriver(_ log: HookLog, clock: ManualClock, liveness: Bool = false) -> Reconnector<FakeConnection, String> {
        let check = liveness ? Reconnector<FakeConnection, String>.Liveness(
            interval: .seconds(10), timeout: .seconds(5), reason: "no answer within 5 s", probe: { await $0.probe() }) : nil
        return Reconnector(machine: ReconnectMachine(backoff: Self.backoff) { "gave up after \($0)" },
                           hooks: log.hooks(), liveness: check, clock: clock, random: { 0.5 })
    }

    @Test("connect, lose, wait the backoff on the clock, reconnect and replay as a reconnect")
    func reconnects() async throws {
        let log = HookLog(), clock = ManualClock()
        let driver = makeDriver(log, clock: clock)
        #expect(await driver.start() == nil)
        #expect(log.lines == ["state connecting(attempt: 0)", "open 0", "replay #0 reconnect=false", "state connected"])
        log.connections.withLock { $0[0] }.end()
        #expect(await clock.waitForDeadlines([.milliseconds(100)]), "the backoff sleeps 100 ms")
        #expect(!log.lines.contains("open 1"), "nothing opens before the delay has passed")
        clock.advance(by: .milliseconds(100))
        #expect(await eventually { log.lines.contains("replay #1 reconnect=true") })
        #expect(driver.current == .connected)
        _ = driver.close(reason: "bye")
        log.connections.withLock { $0[1] }.end()
    }

    @Test("a connect cancelled while its open completes anyway: connected, and the driver still serves and reconnects")
    func cancelledConnectThatOpens() async throws {
        let log = HookLog(), clock = ManualClock(), gate = ManualClock()
        var hooks = log.hooks()
        let plainOpen = hooks.open
        hooks.open = { attempt in
            // The first open waits on the gate; a cancellation ends the wait, and it opens anyway
            // (as a connect whose last step was done when the cancel came).
            if attempt == 0 { try? await gate.sleep(for: .seconds(1)) }
            return await plainOpen(attempt)
        }
        let driver = Reconnector(machine: ReconnectMachine(backoff: Self.backoff) { "gave up after \($0)" },
                                 hooks: hooks, liveness: nil, clock: clock, random: { 0.5 })
        let connect = Task { await driver.start() }
        #expect(await gate.waitForSleepers(1), "the open is under way")
        connect.cancel()
        #expect(await connect.value == nil, "the open succeeded anyway: connected")
        #expect(driver.current == .connected)
        log.connections.withLock { $0[0] }.end()
        #expect(await clock.waitForDeadlines([.milliseconds(100)]), "the driver backs off: it was not cancelled with the connect")
        clock.advance(by: .milliseconds(100))
        #expect(await eventually { log.lines.contains("replay #1 reconnect=true") }, "and reconnects")
        _ = driver.close(reason: "bye")
        log.connections.withLock { $0[1] }.end()
    }

    @Test("failed reconnects back off 100, 200, 400 ms, then give up once maxAttempts is used")
    func givesUp() async throws {
        let log = HookLog(), clock = ManualClock()
        log.failing.withLock { $0 = [1, 2, 3] }
        let driver = makeDriver(log, clock: clock)
        #expect(await driver.start() == nil)
        log.connections.withLock { $0[0] }.end()
        for (offset, delay) in [(100, 100), (300, 200), (700, 400)] {
            #expect(await clock.waitForDeadlines([.milliseconds(offset)]), "sleeping until \(offset) ms")
            clock.advance(by: .milliseconds(delay))
        }
        #expect(await eventually { log.lines.last == "give up: gave up after refused 3" })
        #expect(driver.current == .closed(reason: "gave up after refused 3"))
        #expect(clock.sleeperCount == 0, "nothing sleeps after giving up")
    }

    @Test("launch with retryingFirstConnect: returns at once, a failed first attempt backs off and tries again until it connects")
    func launchRetriesFirstConnect() async throws {
        let log = HookLog(), clock = ManualClock()
        log.failing.withLock { $0 = [0, 1] }
        let driver = Reconnector(machine: ReconnectMachine<String>(backoff: Self.backoff, retryingFirstConnect: true),
                                 hooks: log.hooks(), liveness: nil, clock: clock, random: { 0.5 })
        driver.launch()
        #expect(await clock.waitForDeadlines([.milliseconds(100)]), "the failed first attempt sleeps the first delay")
        #expect(!log.lines.contains("open 1"), "nothing opens before the delay has passed")
        clock.advance(by: .milliseconds(100))
        #expect(await clock.waitForDeadlines([.milliseconds(300)]), "the second failure sleeps the next delay")
        clock.advance(by: .milliseconds(200))
        #expect(await eventually { driver.current == .connected })
        #expect(log.lines.contains("replay #0 reconnect=true") && log.lines.filter { $0.hasPrefix("open") } == ["open 0", "open 1", "open 2"])
        _ = driver.close(reason: "bye")
        log.connections.withLock { $0[0] }.end()
    }

    @Test("the first connect failing is reported to the caller and not retried")
    func firstConnectFails() async throws {
        let log = HookLog(), clock = ManualClock()
        log.failing.withLock { $0 = [0] }
        let driver = makeDriver(log, clock: clock)
        let failure = await driver.start()
        #expect(failure?.reason == "refused 0")
        #expect(driver.current == .idle)
        #expect(log.lines == ["state connecting(attempt: 0)", "open 0", "state idle"])
        #expect(clock.sleeperCount == 0, "no backoff is armed")
    }

    @Test("an unanswered probe drops the connection exactly at interval + timeout, and the loss says why")
    func livenessDrops() async throws {
        let log = HookLog(), clock = ManualClock()
        let driver = makeDriver(log, clock: clock, liveness: true)
        #expect(await driver.start() == nil)
        let first = log.connections.withLock { $0[0] }
        // Positive control: an answered probe keeps the connection.
        #expect(await clock.waitForDeadlines([.seconds(10)]))
        clock.advance(by: .seconds(10))
        #expect(await clock.waitForDeadlines([.seconds(20)]), "answered: the next probe is armed")
        #expect(first.probes == 1 && !first.isEnded)
        first.stopAnswering()
        clock.advance(by: .seconds(10))
        #expect(await clock.waitForDeadlines([.seconds(25)]), "the probe's timeout is armed")
        clock.advance(by: .milliseconds(4_999))
        #expect(!first.isEnded, "not dropped before the timeout")
        clock.advance(by: .milliseconds(1))
        #expect(await eventually { log.lines.contains("drop #0") })
        #expect(await eventually { log.lines.contains("state backingOff(attempt: 1, delay: 0.1 seconds, reason: \"no answer within 5 s\")") })
        _ = driver.close(reason: "bye")
    }

    @Test("close while backing off stops the sleep: nothing opens afterwards")
    func closeWhileBackingOff() async throws {
        let log = HookLog(), clock = ManualClock()
        let driver = makeDriver(log, clock: clock)
        #expect(await driver.start() == nil)
        log.connections.withLock { $0[0] }.end()
        #expect(await clock.waitForDeadlines([.milliseconds(100)]))
        #expect(driver.close(reason: "bye") == nil, "no connection is open")
        #expect(await eventually { clock.sleeperCount == 0 }, "the backoff sleep was cancelled")
        clock.advance(by: .seconds(1))
        #expect(driver.current == .closed(reason: "bye"))
        #expect(!log.lines.contains("open 1"))
        #expect(log.lines.last == "state closed(reason: \"bye\")")
    }
}
