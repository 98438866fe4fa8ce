import Foundation
import MetricStore
import Testing
import TestSupport

@Suite("MetricStore journal order is apply order", .timeLimit(.minutes(1)))
struct MetricStoreJournalOrderTests {
    @Test("eight connections put the same keys and seconds at once: after a restart from the journal, every value is the one served before")
    func concurrentOverwrites() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-order-\(UUID().uuidString).journal").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let served: String
        do {
            let server = try MetricStoreServer(port: 0, configuration: .init(dataFile: path))
            defer { server.stop() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for connection in 0..<8 {
                    group.addTask {
                        try await onThread {
                            let peer = try MetricPeer(port: server.port)
                            defer { peer.peer.close() }
                            var puts = ""
                            for round in 0..<50 { for key in 0..<10 { puts += "put k\(key) \(connection * 1000 + round) \(round % 5)\n" } }
                            let oks = String(repeating: "ok\n\n", count: 500)
                            let answer = try peer.exchange(puts, expecting: oks)
                            guard answer == oks else { throw RawPeerError(description: "connection \(connection) got \(answer.count) bytes of answers") }
                        }
                    }
                }
                try await group.waitForAll()
            }
            served = try await onThread {
                let peer = try MetricPeer(port: server.port)
                defer { peer.peer.close() }
                // 10 keys x 5 seconds.
                try peer.peer.write(Array("get *\n".utf8))
                let bytes = try peer.peer.read(count: 1, timeout: .seconds(10))
                var all = bytes
                while !String(decoding: all, as: UTF8.self).hasSuffix("\n\n") {
                    all += try peer.peer.read(count: 1, timeout: .seconds(10))
                }
                return String(decoding: all, as: UTF8.self)
            }
            #expect(server.pointCount == 50)
        }
        let restarted = try MetricStoreServer(port: 0, configuration: .init(dataFile: path))
        defer { restarted.stop() }
        let replayed = try await onThread {
            try MetricPeer(port: restarted.port).exchange("get *\n", expecting: served)
        }
        #expect(replayed == served, "the journal replays other values than the store served")
        #expect(served.split(separator: "\n").count == 51, "ok and one line per (key, second)")
    }
}
