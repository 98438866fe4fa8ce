import Locking
import Testing
@testable import ConnectionCore

/// ``EventLoop`` as a `TaskExecutor`: a task that prefers a loop runs its nonisolated code on
/// the loop's thread, in the order its jobs were enqueued.
@Suite("EventLoop as a task executor", .timeLimit(.minutes(1)))
struct EventLoopExecutorTests {
    @Test("a task preferring the loop runs on its thread, across suspensions; a task without the preference does not (control)")
    func runsOnTheLoopThread() async {
        let loop = EventLoop(name: "executor")
        let onLoop = await Task(executorPreference: loop) { () async -> [Bool] in
            var seen = [loop.inLoop]
            for _ in 0..<3 {
                await Task.yield()
                seen.append(loop.inLoop)
            }
            // Suspended on something the pool resumes: the task comes back to the loop.
            try? await Task.sleep(for: .milliseconds(1))
            seen.append(loop.inLoop)
            return seen
        }.value
        #expect(onLoop == [true, true, true, true, true])
        let elsewhere = await Task { loop.inLoop }.value
        #expect(!elsewhere)
    }

    @Test("jobs enqueued on the loop run there in the order they were enqueued, after the job that enqueued them")
    func order() async {
        let loop = EventLoop(name: "executor-order")
        let log = LockedValue<[String]>([])
        await withTaskExecutorPreference(loop) {
            await withTaskGroup(of: Void.self) { group in
                // Each child is enqueued on the loop when added (from the loop: this body
                // runs there); they run after the body suspends, first added first.
                for index in 0..<5 {
                    group.addTask { log.withLock { $0.append("child \(index) on loop: \(loop.inLoop)") } }
                }
                log.withLock { $0.append("body on loop: \(loop.inLoop)") }
                await group.waitForAll()
            }
        }
        #expect(log.withLock { $0 } == ["body on loop: true"] + (0..<5).map { "child \($0) on loop: true" })
    }
}
