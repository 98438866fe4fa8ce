import Foundation
import Locking
import TCPTransport
import Testing
import TestSupport
@testable import ConnectionCore

/// A minimal line protocol: proves that any codec runs on the core, not only WebSocket.
struct LineCodec: TransportClosingCodec {
    private var partial: [UInt8] = []
    private var output: [UInt8] = []
    private(set) var closure: String?

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        for byte in input {
            if byte == UInt8(ascii: "\n") {
                events.append(.message(String(decoding: partial, as: UTF8.self), byteCount: partial.count + 1))
                partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(byte)
            }
        }
    }

    /// Sends a `String` or an array of them, one line each.
    mutating func send(_ message: any Sendable) throws(ConnectionError) {
        guard closure == nil else { throw .closed }
        switch message {
        case let line as String: output += Array(line.utf8) + [10]
        case let lines as [String]: for line in lines { output += Array(line.utf8) + [10] }
        default: throw .rejected("not a line")
        }
    }
    mutating func startClose(_ request: any Sendable) { closure = "closed by us" }
    var isClosed: Bool { closure != nil }

    var isReading: Bool { closure == nil }
    mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }
    mutating func transportClosed() -> any Sendable {
        if closure == nil { closure = "transport closed" }
        return closure ?? ""
    }
}

/// A handshake that waits for a greeting line that never comes (for timeouts).
struct WaitForGreeting: StreamHandshake {
    func initialOutput() -> [UInt8] { [] }
    mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress {
        input.contains(UInt8(ascii: "\n")) ? .complete(reply: [], leftover: [], result: "greeted") : .needMore
    }
}

/// Threads of this process, from /proc (Linux).
func threadCount() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    return status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
        .flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) }
}

/// An echo server for lines on `loop`.
final class LineEchoServer: Sendable {
    let listener: StreamListener
    let accepted = LockedValue<[StreamConnection]>([])

    init(loop: EventLoop, configuration: ConnectionConfiguration = .init(), echo: Bool = true,
         handshakeTimeout: Duration = .seconds(5)) throws {
        let accepted = self.accepted
        listener = try StreamListener(
            host: "127.0.0.1", port: 0, group: EventLoopGroup(loops: [loop]), configuration: configuration, handshakeTimeout: handshakeTimeout,
            makeConnection: { (LineCodec(), nil) },
            onConnection: { connection in
                accepted.withLock { $0.append(connection) }
                guard echo else { return }
                Task {
                    while let line = await connection.receive() {
                        try? await connection.send(line)
                    }
                    await connection.close("bye")
                }
            },
            onRejection: { _ in })
    }
}

@Suite("StreamConnection: any codec over TCP on one event loop", .timeLimit(.minutes(1)))
struct StreamConnectionTests {
    @Test("abort() ends the socket with a reset, startClosing() with a FIN: the peer tells them apart")
    func abortResetsCloseFINs() async throws {
        let loop = EventLoop(name: "ends")
        let server = try LineEchoServer(loop: loop, echo: false)
        defer { server.listener.stop() }
        var ends: [RawPeer.End?] = []
        for abort in [true, false] {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.listener.port, timeout: .seconds(5)))
            defer { peer.close() }
            let index = ends.count
            #expect(await eventually(timeout: .seconds(10)) { server.accepted.withLock { $0.count } > index })
            let connection = server.accepted.withLock { $0[index] }
            if abort { connection.abort() } else { connection.startClosing("bye") }
            ends.append(try await onThread { peer.waitForEnd(timeout: .seconds(10)) })
        }
        #expect(ends == [.reset, .fin])
    }

    @Test("a line protocol echoes 2,000 lines in order, written in uneven pieces")
    func lineEcho() async throws {
        let loop = EventLoop(name: "lines")
        let server = try LineEchoServer(loop: loop)
        defer { server.listener.stop() }
        let client = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                    handshake: nil, timeout: .seconds(5), loop: loop)
        let lines = (0..<2000).map { "line \($0) " + String(repeating: "x", count: $0 % 97) }
        let sender = Task {
            var index = 0
            while index < lines.count {
                let chunk = lines[index..<min(lines.count, index + 1 + index % 13)]
                try await client.send(Array(chunk))
                index += chunk.count
            }
        }
        var received: [String] = []
        while received.count < lines.count, let line = await client.receive() { received.append(line as? String ?? "?") }
        try await sender.value
        #expect(received == lines)
        let closure = await client.close("bye")
        #expect(closure as? String == "closed by us")
    }

    @Test("a protocol without a handshake is not subject to the listener's handshake timeout")
    func noHandshakeNoDeadline() async throws {
        let loop = EventLoop(name: "no-handshake")
        let server = try LineEchoServer(loop: loop, handshakeTimeout: .milliseconds(50))
        defer { server.listener.stop() }
        let client = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                    handshake: nil, timeout: .seconds(5), loop: loop)
        try await client.send("before")
        #expect(await client.receive() as? String == "before", "positive control: the connection works")
        // Real time must pass here: the deadline is on the loop's continuous clock.
        try await Task.sleep(for: .milliseconds(300))
        try await client.send("after six timeouts")
        #expect(await client.receive() as? String == "after six timeouts")
        await client.close("bye")
    }

    @Test("300 connections, both ends on one loop, add no thread")
    func noThreadPerConnection() async throws {
        let loop = EventLoop(name: "many")
        let server = try LineEchoServer(loop: loop)
        defer { server.listener.stop() }
        // Warm up: the first connect starts the resolver thread machinery.
        let first = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                   handshake: nil, timeout: .seconds(5), loop: loop)
        await first.close("bye")
        let before = try #require(threadCount())
        var clients: [StreamConnection] = []
        for _ in 0..<300 {
            clients.append(try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                          handshake: nil, timeout: .seconds(5), loop: loop))
        }
        #expect(await eventually { server.accepted.withLock { $0.count } == 301 })
        // Every connection works.
        for (index, client) in clients.enumerated() { try await client.send("hello \(index)") }
        for (index, client) in clients.enumerated() { #expect(await client.receive() as? String == "hello \(index)") }
        // Other tests in the process start and end threads of their own (child processes'
        // pipe readers, loops of their own): while all 600 ends stay open, the count must come
        // back within 10 of where it was; a thread per connection would keep it 300 above.
        let after = LockedValue(0)
        let settled = await eventually(timeout: .seconds(20)) {
            let count = threadCount() ?? Int.max
            after.withLock { $0 = count }
            return count - before < 10
        }
        #expect(settled, "threads went from \(before) to \(after.withLock { $0 }) for 600 connection ends")
        #expect(server.accepted.withLock { $0.dropFirst().allSatisfy { $0.closure == nil } }, "every connection was still open when counted")
        for client in clients { await client.close("bye") }
    }

    @Test("a handshake that never completes times out; cancelling the opener ends it at once")
    func handshakeTimeoutAndCancel() async throws {
        let loop = EventLoop(name: "handshakes")
        let server = try LineEchoServer(loop: loop, echo: false)
        defer { server.listener.stop() }
        let start = ContinuousClock.now
        await #expect {
            _ = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                               handshake: WaitForGreeting(), timeout: .milliseconds(300), loop: loop)
        } throws: { error in
            guard case ConnectFailure.timedOut = error else { return false }
            return true
        }
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        let opener = Task {
            try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                           handshake: WaitForGreeting(), timeout: .seconds(30), loop: loop)
        }
        #expect(await eventually { server.accepted.withLock { $0.count } == 2 }, "TCP is up, the handshake waits")
        opener.cancel()
        // The cancellation ended it, not its 30 s timeout: the failure says cancelled, not
        // timedOut (a stopwatch would measure the machine's load, not this).
        await #expect {
            _ = try await opener.value
        } throws: { error in
            guard case ConnectFailure.cancelled = error else { return false }
            return true
        }
    }

    @Test("nothing listening: refused, as a typed socket error")
    func refused() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        defer { withExtendedLifetime(refusing) {} }
        await #expect {
            _ = try await StreamConnector.open(host: "127.0.0.1", port: port, codec: LineCodec(), handshake: nil, timeout: .seconds(5))
        } throws: { error in
            guard case ConnectFailure.socket(.connectionRefused) = error else { return false }
            return true
        }
    }

    @Test("a peer that reads nothing: send waits at the high-water mark, sendNow refuses with outboundFull")
    func outboundBackpressure() async throws {
        let loop = EventLoop(name: "backpressure")
        // Nothing may absorb the client's output later on (else send need not wait): the peer
        // buffers 16 KiB before it stops reading, and both sockets' kernel buffers are fixed
        // small (setting them turns autotuning off).
        let server = try LineEchoServer(loop: loop, configuration: ConnectionConfiguration(inboundBufferLimit: 16 * 1024), echo: false)
        defer { server.listener.stop() }
        let configuration = ConnectionConfiguration(outboundHighWater: 64 * 1024)
        let client = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: LineCodec(),
                                                    handshake: nil, timeout: .seconds(5), configuration: configuration, loop: loop)
        #expect(await eventually { server.accepted.withLock { $0.count } == 1 })
        var small: Int32 = 8192
        let length = socklen_t(MemoryLayout<Int32>.size)
        #expect(setsockopt(client.socket.descriptor, SOL_SOCKET, SO_SNDBUF, &small, length) == 0)
        let peerSocket = try #require(server.accepted.withLock { $0.first }).socket
        #expect(setsockopt(peerSocket.descriptor, SOL_SOCKET, SO_RCVBUF, &small, length) == 0)
        let line = String(repeating: "y", count: 1000)
        // Fill the socket buffers and our outbox: sendNow must refuse at some point.
        func fillUntilRefused() -> Bool {
            for _ in 0..<100_000 {
                let outcome = Result { () throws(ConnectionError) in try client.sendNow(line) }
                if case .failure(let error) = outcome {
                    #expect(error == .outboundFull)
                    return true
                }
            }
            return false
        }
        #expect(fillUntilRefused(), "sendNow never refused")
        // The loop thread may still be writing what the kernel buffers and the peer's 16 KiB
        // absorb (on a loaded machine it runs behind this task): wait until the output stops
        // moving, then fill again; from then on nothing drains until the peer reads.
        let last = LockedValue(-1)
        #expect(await eventually {
            try? await Task.sleep(for: .milliseconds(100))
            let now = client.pendingOutputBytes
            return last.withLock { previous in
                defer { previous = now }
                return now == previous
            }
        }, "the output settles")
        #expect(fillUntilRefused(), "sendNow refused again")
        #expect(client.pendingOutputBytes > 64 * 1024)
        #expect(client.pendingOutputBytes < 64 * 1024 + 2_000, "nothing was queued past the refusal")
        // send() waits instead of refusing; it returns once the peer reads.
        let returned = LockedValue(false)
        // 300 KB more than the mark: far more than the fixed kernel buffers and the peer's
        // 16 KiB can absorb, so a send must wait until the peer reads.
        let waiting = Task {
            for _ in 0..<300 { try await client.send(line) }
            try await client.send("last")
            returned.withLock { $0 = true }
        }
        #expect(await eventually { client.waitingSenderCount == 1 }, "send is waiting for room")
        #expect(!returned.withLock { $0 }, "and has not returned while the peer reads nothing")
        let peer = try #require(server.accepted.withLock { $0.first })
        var count = 0
        while let received = await peer.receive() {
            count += 1
            if received as? String == "last" { break }
        }
        try await waiting.value
        #expect(returned.withLock { $0 }, "positive control: send returned once the peer read")
        #expect(client.waitingSenderCount == 0)
        #expect(count > 64)
        client.abort()
    }
}
