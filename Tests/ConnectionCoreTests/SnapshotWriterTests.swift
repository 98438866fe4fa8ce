import Foundation
import Locking
import Testing
@testable import ConnectionCore

@Suite("Snapshot files: the newest snapshot wins, waiters answered once theirs or a newer one is saved", .timeLimit(.minutes(1)))
struct SnapshotWriterTests {
    @Test("snapshots that arrive while one is written are coalesced into the newest; a failure fails its waiters only")
    func coalescing() throws {
        var state = SnapshotWriteState<String>()
        let saved = state.save([1])
        let first = try #require(saved)
        #expect(first.version == 1 && first.wake)
        let taken = state.take()
        #expect(taken?.bytes == [1])
        let savedSecond = state.save([2])
        let savedThird = state.save([3])
        let second = try #require(savedSecond)
        let third = try #require(savedThird)
        #expect(!second.wake && !third.wake, "the writer is busy: it looks again when it is back")
        let waitFirst = state.wait(for: 1, "w1")
        let waitSecond = state.wait(for: 2, "w2")
        let waitThird = state.wait(for: 3, "w3")
        #expect(waitFirst == nil && waitSecond == nil && waitThird == nil)
        let finishedFirst = state.finished(version: 1, error: nil)
        #expect(finishedFirst.map(\.0) == ["w1"])
        // Only the newest of the two waiting snapshots is written; it answers both waiters.
        let next = state.take()
        #expect(next?.bytes == [3] && next?.version == 3)
        let done = state.finished(version: 3, error: nil)
        #expect(done.map(\.0).sorted() == ["w2", "w3"] && done.allSatisfy { $0.1 == nil })
        // A failed write fails its waiters; the next snapshot may succeed.
        _ = state.save([4])
        _ = state.take()
        let waitFourth = state.wait(for: 4, "w4")
        #expect(waitFourth == nil)
        let failed = state.finished(version: 4, error: "rename failed")
        #expect(failed.count == 1 && failed[0].1 == "rename failed")
        _ = state.save([5])
        _ = state.take()
        let finishedFifth = state.finished(version: 5, error: nil)
        #expect(finishedFifth.isEmpty)
        let late = state.wait(for: 4, "late")
        #expect(late?.1 == nil, "version 5 on the disk holds what 4 had")
    }

    @Test("eight tasks save 100 snapshots each: every save returns once saved, the file ends with the newest, far fewer writes than saves")
    func writer() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writes = LockedValue(0)
        let writer = SnapshotFileWriter(name: "test snapshots") { bytes in
            writes.withLock { $0 += 1 }
            return FileManager.default.createFile(atPath: path, contents: Data(bytes)) ? nil : "cannot write"
        }
        let newest = LockedValue<UInt64>(0)
        let order = LockedValue(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<100 {
                        // Versions follow the order of the states they show: taken under one lock.
                        let ticket = order.withLock { counter -> SnapshotFileWriter.Ticket? in
                            counter += 1
                            return writer.enqueue(Array("\(counter)".utf8))
                        }
                        guard let ticket else {
                            Issue.record("a save was refused")
                            return
                        }
                        writer.wake(ticket)
                        let outcome = await writer.waitUntilSaved(ticket.version)
                        #expect(outcome == nil)
                        newest.withLock { $0 = max($0, ticket.version) }
                    }
                }
            }
        }
        let content = try String(contentsOfFile: path, encoding: .utf8)
        #expect(content == "800")
        let count = writes.withLock { $0 }
        #expect(count >= 1 && count <= 800, "\(count) writes for 800 saves")
        writer.close()
        let refused = writer.enqueue([0])
        #expect(refused == nil, "a closed writer took a snapshot")
    }
}
