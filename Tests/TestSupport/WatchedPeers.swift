import Foundation
import Locking
import TCPTransport
import WebSocketCore
import WebSocketIO

/// A listener that accepts every client, reads whatever they send, answers only what the
/// test tells it to, and records when each connection ends: the peer of the client-lifetime
/// tests (does a released client's connection end? does it connect again?).
///
/// One thread serves the listener and all connections; connections are numbered from 0 in
/// the order they were accepted.
package final class WatchedPeers: Sendable {
    private struct Peer: Sendable {
        let socket: Socket
        var received: [UInt8] = []
        var ended = false
        var reset = false
        /// WebSocket peers: where the next client frame starts in `received`.
        var nextFrame = 0
        var closeAnswered = false
    }

    private struct State: Sendable {
        var peers: [Peer] = []
        var writes: [(index: Int, bytes: [UInt8])] = []
        var closes: [Int] = []
        var stopped = false
    }

    private let state = LockedValue(State())
    private let listener: TCPListener
    /// The port clients connect to.
    package var port: Int { listener.port }

    /// Starts listening on 127.0.0.1.
    /// - Parameter webSocket: Complete each client's WebSocket handshake on accept.
    package init(webSocket: Bool = false) throws {
        listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        let thread = Thread { [self] in serve(webSocket: webSocket) }
        thread.start()
    }

    /// Connections accepted so far.
    package var acceptedCount: Int { state.withLock { $0.peers.count } }

    /// Whether connection `index` has ended (FIN or reset from the client).
    package func hasEnded(_ index: Int) -> Bool { state.withLock { index < $0.peers.count && $0.peers[index].ended } }

    /// Whether connection `index` ended with a clean end of stream (FIN), not a reset.
    package func endedWithFIN(_ index: Int) -> Bool {
        state.withLock { index < $0.peers.count && $0.peers[index].ended && !$0.peers[index].reset }
    }

    /// The bytes connection `index` received (after the handshake, for WebSocket peers).
    package func received(_ index: Int) -> [UInt8] { state.withLock { index < $0.peers.count ? $0.peers[index].received : [] } }

    /// Waits until `count` connections were accepted.
    package func waitForAccepted(_ count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.acceptedCount >= count }
    }

    /// Waits until connection `index` ended.
    package func waitForEnd(_ index: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.hasEnded(index) }
    }

    /// Waits until connection `index` received at least `count` bytes.
    package func waitForBytes(_ index: Int, count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.received(index).count >= count }
    }

    /// Waits until connection `index` received at least `count` newlines (lines of a text
    /// protocol).
    /// What each accepted connection sent first (up to 40 bytes, as text): for a failure
    /// message, to tell a stray connection (a client of an earlier test that reconnects to a
    /// port the system handed out again) from the test's own.
    package var firstBytes: [String] {
        state.withLock { $0.peers.map { String(decoding: $0.received.prefix(40), as: UTF8.self) } }
    }

    /// Waits until some connection has received `count` lines of which one contains `marker`;
    /// returns its index. Unlike ``waitForLines(_:count:timeout:)`` it does not assume the
    /// test's client was accepted first.
    package func waitForLines(count: Int, containing marker: String, timeout: Duration = .seconds(30)) async -> Int? {
        let bytes = Array(marker.utf8)
        _ = await eventually(timeout: timeout) { self.peer(withLines: count, containing: bytes) != nil }
        return peer(withLines: count, containing: bytes)
    }

    private func peer(withLines count: Int, containing marker: [UInt8]) -> Int? {
        state.withLock { state in
            state.peers.indices.first { index in
                let received = state.peers[index].received
                return received.count(where: { $0 == UInt8(ascii: "\n") }) >= count
                    && received.indices.contains { received[$0...].starts(with: marker) }
            }
        }
    }

    package func waitForLines(_ index: Int, count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.received(index).count(where: { $0 == UInt8(ascii: "\n") }) >= count }
    }

    /// Sends `bytes` on connection `index`.
    package func write(_ bytes: [UInt8], to index: Int) { state.withLock { $0.writes.append((index, bytes)) } }

    /// Closes connection `index` from this side.
    package func close(_ index: Int) { state.withLock { $0.closes.append(index) } }

    /// Stops listening and closes every connection.
    package func stop() { state.withLock { $0.stopped = true } }

    /// Walks the client frames received so far (masked, length-prefixed); true at a close frame.
    private static func scanForClose(_ peer: inout Peer) -> Bool {
        let bytes = peer.received
        while peer.nextFrame + 2 <= bytes.count {
            let start = peer.nextFrame
            let opcode = bytes[start] & 0x0F
            var length = Int(bytes[start + 1] & 0x7F)
            var header = 2
            if length == 126 {
                guard start + 4 <= bytes.count else { return false }
                length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
                header = 4
            } else if length == 127 {
                guard start + 10 <= bytes.count else { return false }
                length = bytes[(start + 2)..<(start + 10)].reduce(0) { $0 << 8 | Int($1) }
                header = 10
            }
            if bytes[start + 1] & 0x80 != 0 { header += 4 }
            guard start + header + length <= bytes.count else { return false }
            if opcode == 0x8 { return true }
            peer.nextFrame = start + header + length
        }
        return false
    }

    private func serve(webSocket: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let (stopped, writes, closes, open) = state.withLock { state in
                defer {
                    state.writes.removeAll()
                    state.closes.removeAll()
                }
                let open = state.peers.indices.filter { !state.peers[$0].ended }.map { ($0, state.peers[$0].socket) }
                return (state.stopped, state.writes, state.closes, open)
            }
            if stopped {
                for (_, socket) in open { socket.close() }
                listener.socket.close()
                return
            }
            for write in writes {
                guard let socket = open.first(where: { $0.0 == write.index })?.1 else { continue }
                try? HandshakeIO.writeAll(write.bytes, to: socket, deadline: .now + .seconds(5), cancellation: nil)
            }
            for index in closes {
                guard let socket = open.first(where: { $0.0 == index })?.1 else { continue }
                socket.close()
                state.withLock { $0.peers[index].ended = true }
            }
            let descriptors = [(listener.socket.descriptor, PollEvents.readable)] + open.map { ($0.1.descriptor, PollEvents.readable) }
            _ = try? pollDescriptors(descriptors, timeoutMilliseconds: 20)
            if let socket = try? listener.accept() {
                if webSocket {
                    let peer = RawPeer(socket: socket)
                    if let head = try? peer.readHead(), case .success(let accepted) = ServerHandshake.respond(to: head) {
                        try? peer.write(accepted.response)
                    }
                }
                state.withLock { $0.peers.append(Peer(socket: socket)) }
            }
            for (index, socket) in open where !closes.contains(index) {
                let result = try? buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                switch result {
                case .bytes(let count)?:
                    let answerClose = state.withLock { state -> Bool in
                        state.peers[index].received += buffer[..<count]
                        guard webSocket, !state.peers[index].closeAnswered else { return false }
                        let sawClose = Self.scanForClose(&state.peers[index])
                        if sawClose { state.peers[index].closeAnswered = true }
                        return sawClose
                    }
                    // A well-behaved server answers the client's close frame, then closes its side
                    // of TCP first (RFC 6455 section 7.1.1), and reads on: the client's own end, a
                    // FIN or a reset, is what this connection records.
                    if answerClose {
                        try? HandshakeIO.writeAll(serverFrame(.close, [0x03, 0xE8]), to: socket, deadline: .now + .seconds(5), cancellation: nil)
                        #if canImport(Darwin)
                        _ = Darwin.shutdown(socket.descriptor, Int32(SHUT_WR))
                        #else
                        _ = Glibc.shutdown(socket.descriptor, Int32(SHUT_WR))
                        #endif
                    }
                case .wouldBlock?:
                    break
                case .endOfFile?:
                    socket.close()
                    state.withLock { $0.peers[index].ended = true }
                case nil:
                    socket.close()
                    state.withLock {
                        $0.peers[index].ended = true
                        $0.peers[index].reset = true
                    }
                }
            }
        }
    }
}

/// A weak reference that a `@Sendable` closure may read.
package struct WeakReference<Object: AnyObject & Sendable>: Sendable {
    /// The object, while something else holds it.
    package weak var object: Object?

    /// A weak reference to `object`.
    package init(object: Object?) {
        self.object = object
    }
}
