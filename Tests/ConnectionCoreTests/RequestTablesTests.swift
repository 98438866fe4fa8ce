import Testing
import TestSupport
@testable import ConnectionCore

@Suite("Request correlation: keyed and pipelined, with timeouts")
struct RequestTablesTests {
    @Test("keyed requests share one round trip per key; one answer resolves all, in order")
    func keyed() {
        var table = KeyedRequests<String, Int>()
        let a = table.add("S1", 1), b = table.add("S1", 2), c = table.add("S2", 3)
        #expect(a.isFirst && !b.isFirst && c.isFirst)
        #expect(table.awaitedKeys == ["S1", "S2"])
        #expect(table.remove(id: b.id) == 2)
        #expect(table.remove(id: b.id) == nil, "removing twice finds nothing")
        #expect(table.answer("S1") == [1])
        #expect(table.answer("S1") == [], "an unsolicited answer resolves nobody")
        #expect(table.removeAll() == [3])
        #expect(table.isEmpty)
    }

    @Test("pipelined answers go to requests in order; an abandoned request's answer is skipped")
    func pipelined() {
        var table = PipelinedRequests<String, Int>()
        let first = table.sent("get a", 1)
        _ = table.sent("get b", 2)
        _ = table.sent("put c", 3)
        #expect(table.abandon(id: first) == 1)
        #expect(table.expectedAnswers == 3 && table.waitingCount == 2)
        let answer = table.answer()
        #expect(answer?.request == "get a" && answer?.waiter == nil, "the timed-out request's answer is skipped")
        #expect(table.answer()?.waiter == 2)
        // A reconnect: the unanswered requests with waiters go out again, in order.
        _ = table.sent("get d", 4)
        #expect(table.reconnected().map(\.request) == ["put c", "get d"])
        #expect(table.answer()?.waiter == 3)
        #expect(table.answer()?.waiter == 4)
        #expect(table.answer() == nil, "an answer nobody asked for")
    }

    @Test("a request of several commands takes that many answers, in bulk or one by one; a reconnect says how many it got; removeAll what it is owed")
    func batches() {
        var table = PipelinedRequests<String, Int>()
        _ = table.sent("puts 1-5", 1, answers: 5)
        _ = table.sent("get x", 2)
        _ = table.sent("puts 6-8", 3, answers: 3)
        #expect(table.expectedAnswers == 9)
        let first = table.answers(upTo: 2)
        #expect(first?.request == "puts 1-5" && first?.taken == 2)
        let rest = table.answers(upTo: 10)
        #expect(rest?.request == "puts 1-5" && rest?.taken == 3, "no more than it is owed")
        #expect(table.answer()?.waiter == 2)
        #expect(table.answers(upTo: 1)?.taken == 1)
        #expect(table.expectedAnswers == 2)
        let replay = table.reconnected()
        #expect(replay.map(\.request) == ["puts 6-8"] && replay.map(\.answered) == [1], "one of its three was answered")
        let owed = table.removeAll()
        #expect(owed.map(\.waiter) == [3] && owed.map(\.owed) == [2])
        #expect(table.answers(upTo: 1) == nil)
    }
}
