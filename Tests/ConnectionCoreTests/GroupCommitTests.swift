import Foundation
import Locking
import Testing
import TestSupport
@testable import ConnectionCore

@Suite("Group commit: one fsync per batch, file order is append order, fail-stop", .timeLimit(.minutes(1)))
struct GroupCommitTests {
    @Test("appends made while a batch is out go together in the next one, in order; waiters wake when their batch is durable")
    func batches() throws {
        var state = GroupCommitState<String>()
        let appended = try state.append(Array("a".utf8))
        #expect(appended.sequence == 1 && appended.wake, "an idle writer is woken by the first append")
        let second = try state.append(Array("b".utf8))
        #expect(second.sequence == 2 && !second.wake, "a writer already woken is not woken again")
        let first = state.takeBatch()
        let batch = try #require(first)
        #expect(batch.bytes == Array("ab".utf8) && batch.upTo == 2)
        let overlapping = state.takeBatch()
        #expect(overlapping == nil, "one batch at a time")
        // While it is written, more arrives, and waiters register.
        let third = try state.append(Array("c".utf8))
        #expect(!third.wake, "the writer is busy: it takes the next batch when it is back")
        let wait2 = state.wait(for: 2, "w2")
        let wait3 = state.wait(for: 3, "w3")
        #expect(wait2 == nil && wait3 == nil)
        let done = state.batchFinished(upTo: 2, error: nil)
        #expect(done.map(\.0) == ["w2"], "only the waiter of the finished batch wakes")
        #expect(state.hasBatch)
        let taken = state.takeBatch()
        let next = try #require(taken)
        #expect(next.bytes == Array("c".utf8) && next.upTo == 3)
        let finished = state.batchFinished(upTo: 3, error: nil)
        #expect(finished.map(\.0) == ["w3"])
        // A waiter for something already durable is answered at once.
        let answered = state.wait(for: 1, "late")
        let immediate = try #require(answered)
        #expect(immediate.0 == "late")
        if case .failure = immediate.1 { Issue.record("a durable append was reported failed") }
    }

    @Test("a failed batch fails its waiters, every later append and wait: nothing more is acknowledged")
    func failStop() throws {
        var state = GroupCommitState<String>()
        _ = try state.append([1])
        let batch = state.takeBatch()
        #expect(batch != nil)
        _ = try state.append([2])
        let wait1 = state.wait(for: 1, "w1")
        let wait2 = state.wait(for: 2, "w2")
        #expect(wait1 == nil && wait2 == nil)
        let failed = state.batchFinished(upTo: 1, error: "fsync failed: Input/output error")
        #expect(failed.map(\.0).sorted() == ["w1", "w2"])
        #expect(failed.allSatisfy { if case .failure(.failed) = $0.1 { true } else { false } })
        var failedState = state
        #expect(throws: GroupCommitFailure.failed("fsync failed: Input/output error")) { try failedState.append([3]) }
        state = failedState
        let afterFailure = state.takeBatch()
        #expect(afterFailure == nil)
        let waited = state.wait(for: 2, "late")
        let late = try #require(waited)
        if case .success = late.1 { Issue.record("an append after the failure was acknowledged") }
    }

    @Test("the writer thread: 8 tasks append 200 records each, every record lands once, each waiter only after its fsync; an injected fsync failure stops it")
    func writer() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("group-commit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let syncs = LockedValue(0)
        let failSyncs = LockedValue(false)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        #expect(descriptor >= 0)
        // Each fsync takes 2 ms, as a disk would: appends arrive while one runs.
        let writer = GroupCommitWriter(descriptor: descriptor, name: "test journal") { descriptor in
            syncs.withLock { $0 += 1 }
            usleep(2000)
            if failSyncs.withLock({ $0 }) {
                errno = EIO
                return -1
            }
            return fsync(descriptor)
        }
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for record in 0..<200 {
                        guard let ticket = try? writer.append(Array("\(task) \(record)\n".utf8)) else {
                            Issue.record("an append was refused")
                            return
                        }
                        writer.wake(ticket)
                        let outcome = await writer.waitUntilDurable(ticket.sequence)
                        if case .failure(let failure) = outcome { Issue.record("\(failure)") }
                        // Durable means written: the record is in the file now.
                    }
                }
            }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1600)
        #expect(Set(lines).count == 1600)
        for task in 0..<8 {
            // Each task's records in its own order.
            let own = lines.filter { $0.hasPrefix("\(task) ") }.map { Int($0.split(separator: " ")[1]) ?? -1 }
            #expect(own == Array(0..<200))
        }
        let batches = syncs.withLock { $0 }
        // Eight writers, each waiting for its own fsync: while one runs the others append, so
        // one fsync covers several appends (one per append would be 1,600).
        #expect(batches >= 200 && batches < 800, "\(batches) fsyncs for 1,600 appends")
        // Now the disk fails: the waiter learns it, and nothing is accepted afterwards.
        failSyncs.withLock { $0 = true }
        let ticket = try writer.append(Array("doomed\n".utf8))
        writer.wake(ticket)
        guard case .failure(.failed(let reason)) = await writer.waitUntilDurable(ticket.sequence) else {
            Issue.record("an append whose fsync failed was acknowledged")
            return
        }
        #expect(reason.contains("fsync failed"))
        #expect(writer.hasFailed)
        #expect(throws: GroupCommitFailure.self) { try writer.append(Array("after\n".utf8)) }
        writer.close()
    }
}
