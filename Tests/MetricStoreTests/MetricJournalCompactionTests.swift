import Foundation
import Locking
@testable import ConnectionCore
import MetricStore
import Testing
import TestSupport

/// The data file compacted while the server runs: from a snapshot of the store, appends after
/// it following it, and a restart serves what was served before.
@Suite("MetricStore journal compaction while running", .timeLimit(.minutes(1)))
struct MetricJournalCompactionTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("compaction-\(UUID().uuidString).journal").path
    }

    static func lines(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    }

    @Test("a rewrite drops the appends not yet written (the snapshot holds them), later ones follow it, every waiter is durable after it; an idle writer is woken")
    func rewriteState() throws {
        var state = GroupCommitState<String>()
        _ = try state.append(Array("a\n".utf8))
        let first = state.takeBatch()
        #expect(first?.bytes == Array("a\n".utf8) && first?.rewrite == nil)
        _ = try state.append(Array("b\n".utf8))
        let rewrite = try state.rewrite { Array("R\n".utf8) }
        #expect(rewrite.sequence == 3 && !rewrite.wake, "the writer is busy: it takes the rewrite next")
        let after = try state.append(Array("c\n".utf8))
        #expect(after.sequence == 4 && !after.wake)
        let waited2 = state.wait(for: 2, "w2")
        let waited4 = state.wait(for: 4, "w4")
        #expect(waited2 == nil && waited4 == nil)
        let firstDone = state.batchFinished(upTo: 1, error: nil)
        #expect(firstDone.isEmpty)
        let taken = state.takeBatch()
        let next = try #require(taken)
        #expect(next.rewrite?() == Array("R\n".utf8) && next.bytes == Array("c\n".utf8) && next.upTo == 4, "b is not written: the snapshot holds it")
        let done = state.batchFinished(upTo: 4, error: nil)
        #expect(done.map(\.0) == ["w2", "w4"])

        var idle = GroupCommitState<String>()
        let idleRewrite = try idle.rewrite { [] }
        #expect(idleRewrite.wake, "an idle writer is woken by a rewrite")
        let behind = try idle.append([1])
        #expect(!behind.wake, "and not again by an append behind it")
    }

    @Test("the writer thread: a rewrite replaces the file with the snapshot, and the appends made after it follow it")
    func writerRewrite() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        #expect(descriptor >= 0)
        // The first batch's fsync is held until b, the rewrite and c are all in: the rewrite
        // and c are then one batch, whatever the threads' timing.
        let release = DispatchSemaphore(value: 0)
        let syncs = LockedValue(0)
        let writer = GroupCommitWriter(descriptor: descriptor, name: "test journal", sync: { descriptor in
            if syncs.withLock({ count in defer { count += 1 }; return count }) == 0 { release.wait() }
            return fsync(descriptor)
        }, replace: { (bytes) throws(GroupCommitFailure) in
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: path + ".new"))
                guard rename(path + ".new", path) == 0 else { throw GroupCommitFailure.failed("rename") }
            } catch {
                throw .failed("\(error)")
            }
            return open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        })
        defer { writer.close() }
        let first = try writer.append(Array("a\n".utf8))
        writer.wake(first)
        _ = try writer.append(Array("b\n".utf8))
        let rewrite = try writer.rewrite { Array("R\n".utf8) }
        writer.wake(rewrite)
        let last = try writer.append(Array("c\n".utf8))
        writer.wake(last)
        release.signal()
        let outcome = await writer.waitUntilDurable(last.sequence)
        if case .failure(let failure) = outcome { Issue.record("\(failure)") }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "R\nc\n", "the snapshot, then the append after it")
        let more = try writer.append(Array("d\n".utf8))
        writer.wake(more)
        _ = await writer.waitUntilDurable(more.sequence)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "R\nc\nd\n", "later appends go to the new file")
    }

    @Test("overwrites keep the file small while the server runs; four clients putting the same keys and seconds, then a restart: every value served before is served after")
    func compactsWhileRunning() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = MetricStoreServer.Configuration(dataFile: path)
        configuration.compactionSlack = 50
        let served: [String: [MetricPoint]]
        do {
            let server = try MetricStoreServer(port: 0, configuration: configuration)
            defer { server.stop() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<4 {
                    group.addTask {
                        let connection = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(30))
                        defer { connection.close() }
                        let samples = (0..<2_000).map { MetricSample(key: "k\($0 % 10)", value: Double(client * 10_000 + $0), timestamp: ($0 / 10) % 20) }
                        _ = try await connection.record(samples, window: 64)
                    }
                }
                try await group.waitForAll()
            }
            #expect(server.compactionCount > 10, "8,000 puts onto 200 points, compacted past 2 x 200 + 50 lines")
            // Every put was acknowledged, so durable: the file is a compacted snapshot plus what followed it.
            let fileLines = try Self.lines(path).count
            #expect(fileLines <= 2 * 200 + 50, "\(fileLines) lines")
            let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
            served = try await client.get("*")
            client.close()
            #expect(served.values.reduce(0) { $0 + $1.count } == 200)
        }
        let restarted = try MetricStoreServer(port: 0, configuration: .init(dataFile: path))
        defer { restarted.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: restarted.port, timeout: .seconds(15))
        defer { client.close() }
        #expect(try await client.get("*") == served, "the restart serves what was served before it")
    }

    @Test("a compaction slack below 0 is a configuration error; 0 and Int.max are taken (control)")
    func slackChecked() throws {
        var configuration = MetricStoreServer.Configuration()
        configuration.compactionSlack = -1
        #expect(throws: MetricStoreServerError.self) { try MetricStoreServer(port: 0, configuration: configuration) }
        for slack in [0, Int.max] {
            configuration.compactionSlack = slack
            let server = try MetricStoreServer(port: 0, configuration: configuration)
            server.stop()
        }
    }

    @Test("a rewrite that fails is a failed write: its waiters and every later append fail (fail-stop)")
    func failedRewrite() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let writer = GroupCommitWriter(descriptor: descriptor, name: "test journal",
                                       replace: { (_) throws(GroupCommitFailure) in throw .failed("disk full") })
        defer { writer.close() }
        let first = try writer.append(Array("a\n".utf8))
        writer.wake(first)
        if case .failure = await writer.waitUntilDurable(first.sequence) { Issue.record("positive control: a plain append is durable") }
        let rewrite = try writer.rewrite { Array("R\n".utf8) }
        writer.wake(rewrite)
        guard case .failure(let failure) = await writer.waitUntilDurable(rewrite.sequence) else {
            Issue.record("a failed rewrite was reported durable")
            return
        }
        #expect(failure == .failed("rewriting the file failed: disk full"))
        #expect(throws: GroupCommitFailure.self) { try writer.append([1]) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "a\n", "the old file is untouched")
    }

    @Test("retention: expired points leave the file with the next compaction while the server runs; without enough dead lines, no compaction (control)")
    func retentionCompacts() async throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let clock = LockedValue<Int64>(1_000)
        var configuration = MetricStoreServer.Configuration(dataFile: path, retention: .seconds(100))
        configuration.compactionSlack = 10
        let server = try MetricStoreServer(port: 0, configuration: configuration, now: { clock.withLock { $0 } })
        defer { server.stop() }
        let client = MetricStoreClient(host: "127.0.0.1", port: server.port, timeout: .seconds(15))
        defer { client.close() }
        _ = try await client.record((901...1_000).map { MetricSample(key: "cpu", value: Double($0), timestamp: $0) }, window: 64)
        let before = server.compactionCount
        clock.withLock { $0 = 1_005 }
        server.removeExpiredPoints()
        #expect(server.compactionCount == before, "4 dead lines of 100: not worth a compaction")
        clock.withLock { $0 = 1_080 }
        server.removeExpiredPoints()
        #expect(server.compactionCount == before + 1)
        // The compaction is durable once a put after it is acknowledged.
        try await client.put("cpu", 1_080, timestamp: 1_080)
        let timestamps = try Self.lines(path).map { $0.split(separator: " ").last.map(String.init) ?? "" }
        #expect(timestamps == (980...1_000).map(String.init) + ["1080"], "only the kept points, then the put after")
    }
}
