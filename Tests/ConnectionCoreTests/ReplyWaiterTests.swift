import Locking
import Testing
import TestSupport
@testable import ConnectionCore

/// A client's request table in miniature: waiters by id, under a lock.
private final class Table: Sendable {
    private struct State: Sendable {
        var waiters: [UInt64: CheckedContinuation<Int, any Error>] = [:]
        var lastID: UInt64 = 0
        var abandoned: [(UInt64, ReplyAbandonment)] = []
    }
    private let state = LockedValue(State())

    struct Abandoned: Error, Equatable {
        let why: ReplyAbandonment
    }

    func register(_ continuation: CheckedContinuation<Int, any Error>) -> UInt64 {
        state.withLock { state in
            state.lastID += 1
            state.waiters[state.lastID] = continuation
            return state.lastID
        }
    }

    func abandon(_ id: UInt64, _ why: ReplyAbandonment) {
        let waiter = state.withLock { state in
            state.abandoned.append((id, why))
            return state.waiters.removeValue(forKey: id)
        }
        waiter?.resume(throwing: Abandoned(why: why))
    }

    func answer(_ id: UInt64, _ value: Int) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: value)
    }

    var waiting: [UInt64] { state.withLock { $0.waiters.keys.sorted() } }
    /// Requests registered so far.
    var registered: UInt64 { state.withLock { $0.lastID } }
    var abandoned: [ReplyAbandonment] { state.withLock { $0.abandoned.map(\.1) } }

    func wait(timeout: Duration?, clock: any Clock<Duration>) async throws -> Int {
        try await ReplyWaiter.wait(timeout: timeout, clock: clock) { continuation in
            register(continuation)
        } abandon: { [self] id, why in
            abandon(id, why)
        }
    }
}

@Suite("ReplyWaiter: one request's timeout and cancellation, done once for every client")
struct ReplyWaiterTests {
    @Test("the reply wins before the timeout; the timeout, on the request's clock, after")
    func replyThenTimeout() async throws {
        let clock = ManualClock()
        let table = Table()
        let answered = Task { try await table.wait(timeout: .seconds(5), clock: clock) }
        #expect(await eventually { table.waiting == [1] })
        #expect(await clock.waitForDeadlines([.seconds(5)]), "the timeout is armed")
        table.answer(1, 42)
        #expect(try await answered.value == 42)
        #expect(await eventually { clock.sleeperCount == 0 }, "and disarmed by the reply")
        #expect(table.abandoned.isEmpty)

        let late = Task { try await table.wait(timeout: .seconds(5), clock: clock) }
        #expect(await clock.waitForDeadlines([.seconds(5)]))
        clock.advance(by: .seconds(5))
        await #expect(throws: Table.Abandoned(why: .timedOut)) { try await late.value }
        #expect(table.waiting.isEmpty && table.abandoned == [.timedOut])
    }

    @Test("on the continuous clock the timeout is a loop timer: it fires, no task group")
    func loopTimer() async throws {
        let table = Table()
        await #expect(throws: Table.Abandoned(why: .timedOut)) {
            try await table.wait(timeout: .milliseconds(20), clock: ContinuousClock())
        }
        #expect(table.waiting.isEmpty)
    }

    @Test("a task cancelled before the call: nothing is registered or sent, the call ends with CancellationError")
    func cancelledBefore() async throws {
        let table = Table()
        let call = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await table.wait(timeout: nil, clock: ContinuousClock())
        }
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(table.waiting.isEmpty && table.abandoned.isEmpty && table.registered == 0)
        // Positive control: an uncancelled call registers.
        let waiting = Task { try await table.wait(timeout: nil, clock: ContinuousClock()) }
        #expect(await eventually { table.registered == 1 })
        table.answer(1, 7)
        #expect(try await waiting.value == 7)
    }

    @Test("the timeout and a cancellation racing: abandon runs once")
    func abandonOnce() async throws {
        for _ in 0..<200 {
            let table = Table()
            let call = Task { try await table.wait(timeout: .milliseconds(1), clock: ContinuousClock()) }
            #expect(await eventually { table.registered == 1 })
            call.cancel()
            _ = await call.result
            #expect(await eventually { !table.abandoned.isEmpty })
            #expect(table.abandoned.count == 1, "\(table.abandoned)")
        }
    }

    @Test("a task cancelled while it waits: abandoned; without a timeout only that ends it")
    func cancelledWhileWaiting() async throws {
        let table = Table()
        let call = Task { try await table.wait(timeout: nil, clock: ContinuousClock()) }
        #expect(await eventually { table.waiting == [1] }, "positive control: it waits")
        call.cancel()
        await #expect(throws: Table.Abandoned(why: .cancelled)) { try await call.value }
        #expect(table.waiting.isEmpty)
    }

    @Test("a request the client refuses at once (closed): its own answer, nothing abandoned")
    func refusedAtOnce() async throws {
        struct Closed: Error {}
        await #expect(throws: Closed.self) {
            let _: Int = try await ReplyWaiter.wait(timeout: .seconds(1), clock: ContinuousClock()) { continuation in
                continuation.resume(throwing: Closed())
                return UInt64?.none
            } abandon: { _, _ in
                Issue.record("nothing to abandon")
            }
        }
    }
}
