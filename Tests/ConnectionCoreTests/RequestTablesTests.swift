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
}
