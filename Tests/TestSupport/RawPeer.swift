import Foundation
import TCPTransport
import WebSocketCore
import WebSocketIO

/// Runs blocking work on its own thread so tests never block the cooperative pool.
package func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

package struct RawPeerError: Error, CustomStringConvertible {
    package let description: String
    package init(description: String) { self.description = description }
}

/// A raw TCP endpoint speaking bytes, for tests that need a misbehaving peer.
package struct RawPeer: Sendable {
    package let socket: Socket
    package init(socket: Socket) { self.socket = socket }

    /// Writes all bytes within `timeout` (default 5 s).
    package func write(_ bytes: [UInt8], timeout: Duration = .seconds(5)) throws {
        let deadline = ContinuousClock.now + timeout
        try HandshakeIO.writeAll(bytes, to: socket, deadline: deadline, cancellation: nil)
    }

    /// Reads until `count` bytes arrived, or EOF, or `timeout`.
    package func read(count: Int, timeout: Duration = .seconds(30)) throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + timeout
        while received.count < count {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            _ = try pollDescriptors([(socket.descriptor, .readable)], timeoutMilliseconds: remaining.milliseconds)
            let result = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
            switch result {
            case .bytes(let n): received += buffer[..<n]
            case .wouldBlock: continue
            case .endOfFile: return received
            }
        }
        return received
    }

    /// Reads an HTTP head.
    package func readHead() throws -> HTTPHead {
        try HandshakeIO.readHead(from: socket, maxSize: 16384, deadline: .now + .seconds(5), cancellation: nil).head
    }

    /// Waits for EOF (or a reset); true if it came within `timeout`.
    package func waitForEOF(timeout: Duration = .seconds(30)) throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            _ = try pollDescriptors([(socket.descriptor, .readable)], timeoutMilliseconds: 100)
            do {
                let result = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                if case .endOfFile = result { return true }
            } catch {
                return true
            }
        }
        return false
    }

    /// Waits for the peer's end; true only for a clean end of stream (FIN), false for a reset
    /// or nothing within `timeout`.
    package func waitForFIN(timeout: Duration = .seconds(30)) -> Bool {
        waitForEnd(timeout: timeout) == .fin
    }

    /// How a peer's side of a connection ended.
    package enum End: Sendable, Equatable {
        /// A clean end of stream.
        case fin
        /// A TCP reset.
        case reset
    }

    /// Waits for the peer's end, reading past anything it still sends; nil when nothing ended
    /// within `timeout`.
    package func waitForEnd(timeout: Duration = .seconds(30)) -> End? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            do {
                _ = try pollDescriptors([(socket.descriptor, .readable)], timeoutMilliseconds: 100)
                let result = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
                if case .endOfFile = result { return .fin }
            } catch let error as SocketError where error == .connectionReset {
                return .reset
            } catch {
                return nil
            }
        }
        return nil
    }

    package func close() { socket.close() }
}

/// A listener whose connections the test drives byte by byte.
package struct RawServer: Sendable {
    package let listener: TCPListener
    package var port: Int { listener.port }

    package init() throws {
        listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
    }

    /// Accepts one connection within `timeout` (default 30 s).
    package func accept(within timeout: Duration = .seconds(30)) throws -> RawPeer {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            _ = try pollDescriptors([(listener.socket.descriptor, .readable)], timeoutMilliseconds: 100)
            if let socket = try listener.accept() { return RawPeer(socket: socket) }
        }
        throw RawPeerError(description: "no connection within \(timeout)")
    }

    /// Accepts a client and completes its handshake as a well-behaved server would.
    package func acceptWebSocket() throws -> RawPeer {
        let peer = try accept()
        let head = try peer.readHead()
        guard case .success(let accepted) = ServerHandshake.respond(to: head) else {
            throw RawPeerError(description: "bad client handshake")
        }
        try peer.write(accepted.response)
        return peer
    }

    /// Accepts one client, reads its request head, answers `response` (nothing if empty)
    /// and closes: a server that gets the handshake wrong.
    package func answerOnce(with response: String) throws {
        let peer = try accept()
        _ = try peer.readHead()
        if !response.isEmpty { try peer.write(Array(response.utf8)) }
        peer.close()
    }

    package func close() { listener.socket.close() }
}

/// Encodes a server frame (unmasked) for raw peers.
package func serverFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, key: WebSocketMaskingKey? = nil) -> [UInt8] {
    FrameEncoder.encode(WebSocketFrame(fin: fin, reservedBits: rsv, opcode: opcode, maskingKey: key, payload: payload))
}

/// Decodes every frame a client sent (masked).
package func clientFrames(_ bytes: [UInt8]) throws -> [WebSocketFrame] {
    var collector = FrameCollector(FrameDecoder(role: .server, maxFrameSize: 1 << 24))
    return try collector.feed(bytes)
}

/// An echo server on loopback for client tests.
package func startEchoServer(configuration: WebSocketConfiguration = .init()) throws -> (WebSocketServer, Task<Void, Never>) {
    let server = try WebSocketServer(host: "127.0.0.1", port: 0, configuration: configuration)
    let task = Task {
        await withDiscardingTaskGroup { group in
            for await connection in server.connections {
                group.addTask {
                    for await message in connection.messages {
                        try? await connection.send(message)
                    }
                }
            }
        }
    }
    return (server, task)
}
