import Locking
import TCPTransport
import Testing
import TestSupport
@testable import ConnectionCore

/// ``StreamConnection/receiveInline(limit:_:)``: the loop thread hands messages to a handler
/// without waking the receiving task, and everything the handler does not take reaches the
/// task, in order.
@Suite("StreamConnection: messages handed over on the loop thread", .timeLimit(.minutes(1)))
struct InlineReceiverTests {
    /// A server connection for one raw peer, on a loop of its own.
    struct Setup {
        let loop: EventLoop
        let server: LineEchoServer
        let peer: RawPeer
        let connection: StreamConnection

        init(name: String) async throws {
            loop = EventLoop(name: name)
            server = try LineEchoServer(loop: loop, echo: false)
            peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.listener.port, timeout: .seconds(5)))
            let server = server
            #expect(await eventually(timeout: .seconds(10)) { server.accepted.withLock { !$0.isEmpty } })
            connection = try #require(server.accepted.withLock { $0.first })
        }

        func send(_ lines: String...) throws {
            try peer.write(Array(lines.map { $0 + "\n" }.joined().utf8))
        }

        func stop() {
            peer.close()
            server.listener.stop()
        }
    }

    /// What the handler saw, and what the task got back.
    final class Log: Sendable {
        let handled = LockedValue<[String]>([])
        let offLoop = LockedValue(0)
        let returned = LockedValue<[[String]]>([])
    }

    @Test("lines reach the handler on the loop thread in order and the task sleeps; a declined rest comes back to the task, then the handler again; nil at the end")
    func handOverAndBack() async throws {
        let setup = try await Setup(name: "inline")
        defer { setup.stop() }
        let (loop, connection, log) = (setup.loop, setup.connection, Log())
        let task = Task {
            while let back = await connection.receiveInline({ batch in
                if !LoopThreadMarker.isCurrent(loop) { log.offLoop.withLock { $0 += 1 } }
                let lines = batch.map { $0 as? String ?? "?" }
                // Takes everything up to a line "decline", which goes back with what follows.
                let taken = lines.firstIndex(of: "decline") ?? lines.count
                log.handled.withLock { $0 += lines[..<taken] }
                return taken
            }) {
                log.returned.withLock { $0.append(back.map { $0 as? String ?? "?" }) }
            }
            return "ended"
        }
        #expect(await eventually { connection.hasInlineReceiver })
        try setup.send("1", "2", "3")
        #expect(await eventually { log.handled.withLock { $0 } == ["1", "2", "3"] })
        #expect(log.returned.withLock { $0 }.isEmpty, "the task was not woken for lines the handler took")
        try setup.send("4", "decline", "5")
        #expect(await eventually { log.returned.withLock { $0 }.count == 1 })
        #expect(log.handled.withLock { $0 } == ["1", "2", "3", "4"])
        #expect(log.returned.withLock { $0 } == [["decline", "5"]], "the rest of the batch, in order, to the task (positive control)")
        // The task installed the handler again.
        #expect(await eventually { connection.hasInlineReceiver })
        try setup.send("6", "7")
        #expect(await eventually { log.handled.withLock { $0 }.count == 6 })
        #expect(log.handled.withLock { $0 } == ["1", "2", "3", "4", "6", "7"])
        #expect(log.offLoop.withLock { $0 } == 0, "the handler ran on the loop thread only")
        setup.peer.socket.shutdown()  // a FIN; `stop()` closes the descriptor, once
        #expect(await task.value == "ended")
        #expect(log.returned.withLock { $0 }.filter { !$0.isEmpty } == [["decline", "5"]],
                "the end hands the task nothing more than an empty wake-up")
    }

    @Test("lines queued before the handler is installed go to the task at once, not to the handler")
    func queuedFirstGoToTheTask() async throws {
        let setup = try await Setup(name: "inline-queued")
        defer { setup.stop() }
        let connection = setup.connection
        try setup.send("a", "b")
        #expect(await eventually { connection.inboundBufferedBytes == 4 })
        let handled = LockedValue(0)
        let back = await connection.receiveInline { batch in
            handled.withLock { $0 += batch.count }
            return batch.count
        }
        #expect(back?.map { $0 as? String } == ["a", "b"])
        #expect(handled.withLock { $0 } == 0)
    }

    @Test("cancelling the task uninstalls the handler: later lines wait for the next receive")
    func cancellation() async throws {
        let setup = try await Setup(name: "inline-cancel")
        defer { setup.stop() }
        let connection = setup.connection
        let handled = LockedValue(0)
        let task = Task {
            await connection.receiveInline { batch in
                handled.withLock { $0 += batch.count }
                return batch.count
            }
        }
        #expect(await eventually { connection.hasInlineReceiver })
        task.cancel()
        #expect(await task.value == nil)
        #expect(!connection.hasInlineReceiver)
        try setup.send("late")
        #expect(await connection.receive() as? String == "late", "queued for the next receive (positive control)")
        #expect(handled.withLock { $0 } == 0)
    }
}
