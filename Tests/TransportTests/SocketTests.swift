import Foundation
import Locking
import TCPTransport
import Testing
import TestSupport

@Suite("TCPTransport: resolution, listener, non-blocking I/O, error mapping", .timeLimit(.minutes(1)))
struct SocketTests {
    @Test("literals and names resolve; an unknown name is a typed error")
    func resolution() throws {
        let v4 = try SocketAddress.resolve(host: "127.0.0.1", port: 80)
        #expect(v4.map(\.description) == ["127.0.0.1:80"])
        let v6 = try SocketAddress.resolve(host: "::1", port: 443)
        #expect(v6.count == 1 && v6[0].family == AF_INET6)
        #expect(try !SocketAddress.resolve(host: "localhost", port: 1).isEmpty)
        #expect {
            _ = try SocketAddress.resolve(host: "no-such-host.invalid", port: 80)
        } throws: { error in
            guard case SocketError.nameResolutionFailed(let host, _) = error else { return false }
            return host == "no-such-host.invalid"
        }
    }

    @Test("a listener on port 0 gets a port; a second bind of it is addressInUse")
    func listener() throws {
        let first = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { first.socket.close() }
        #expect(first.port > 0)
        #expect(throws: SocketError.addressInUse) { _ = try TCPListener.bind(host: "127.0.0.1", port: first.port) }
    }

    @Test("nothing listening: connect is refused, as a typed error")
    func refused() throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        defer { withExtendedLifetime(refusing) {} }
        #expect(throws: SocketError.connectionRefused) {
            _ = try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
        }
    }

    @Test("bytes round-trip non-blocking; a drained socket would block; a closed peer reads end of file")
    func readWrite() async throws {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.socket.close() }
        let client = try TCPConnector.connect(host: "127.0.0.1", port: listener.port, timeout: .seconds(5))
        defer { client.close() }
        let server = try RawServerAccept.accept(listener)
        let payload = Array("hello, sensors".utf8)
        let written = try payload.withUnsafeBytes { try client.write($0) }
        #expect(written == .bytes(payload.count))
        let peer = RawPeer(socket: server)
        #expect(try peer.read(count: payload.count) == payload)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(try buffer.withUnsafeMutableBytes { try server.read(into: $0) } == .wouldBlock)
        client.shutdown()
        #expect(try peer.waitForEOF())
        server.close()
    }

    @Test("a peer that resets (SO_LINGER 0): the next read or write maps to connectionReset")
    func resetMapping() async throws {
        let listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        defer { listener.socket.close() }
        let client = try TCPConnector.connect(host: "127.0.0.1", port: listener.port, timeout: .seconds(5))
        defer { client.close() }
        let server = try RawServerAccept.accept(listener)
        server.abort()  // RST
        let reset = await eventually {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
            defer { buffer.deallocate() }
            let outcome = Result { () throws(SocketError) in try client.read(into: buffer) }
            if case .failure(.connectionReset) = outcome { return true }
            return false
        }
        #expect(reset, "the reset surfaced as SocketError.connectionReset")
    }

    @Test("errno values map to the typed cases; others keep the call and errno")
    func errnoMapping() {
        #expect(SocketError.fromErrno(ECONNREFUSED, call: "connect") == .connectionRefused)
        #expect(SocketError.fromErrno(ECONNRESET, call: "recv") == .connectionReset)
        #expect(SocketError.fromErrno(EPIPE, call: "send") == .connectionReset)
        #expect(SocketError.fromErrno(ETIMEDOUT, call: "connect") == .timedOut)
        #expect(SocketError.fromErrno(ENETUNREACH, call: "connect") == .unreachable)
        #expect(SocketError.fromErrno(EADDRINUSE, call: "bind") == .addressInUse)
        #expect(SocketError.fromErrno(EBADF, call: "recv") == .system(call: "recv", errno: EBADF))
        #expect(SocketError.system(call: "recv", errno: EBADF).description.contains("recv failed"))
    }
}

/// Accepts one connection on a listener, waiting for it.
enum RawServerAccept {
    static func accept(_ listener: TCPListener) throws -> Socket {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let socket = try listener.accept() { return socket }
            _ = try pollDescriptors([(listener.socket.descriptor, .readable)], timeoutMilliseconds: 100)
        }
        throw SocketError.timedOut
    }
}
