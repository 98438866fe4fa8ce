#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// An open TCP socket's file descriptor with the few operations the transport needs.
///
/// A plain value: whoever created it closes it, exactly once (``close()``).
package struct Socket: Sendable, Hashable {
    package let descriptor: Int32

    package init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Creates a non-blocking, close-on-exec TCP socket of `family`.
    package static func makeTCP(family: Int32) throws(SocketError) -> Socket {
        let fd = socket(family, SocketType.stream, 0)
        guard fd >= 0 else { throw .fromErrno(errno, call: "socket") }
        let socket = Socket(descriptor: fd)
        do {
            try socket.configure()
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Non-blocking, close-on-exec, no SIGPIPE (Darwin), TCP_NODELAY.
    package func configure() throws(SocketError) {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) == 0 else { throw .fromErrno(errno, call: "fcntl") }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        #if canImport(Darwin)
        try setOption(SOL_SOCKET, SO_NOSIGPIPE, 1)
        #endif
        // Small sensor messages must not wait for Nagle's algorithm.
        try? setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    package func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws(SocketError) {
        var value = value
        guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw .fromErrno(errno, call: "setsockopt")
        }
    }

    /// The address the socket is bound to.
    package var localAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress(bytes: $0.baseAddress!, length: Int(length)) }
    }

    /// The address of the peer, for a connected socket.
    package var peerAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { SocketAddress(bytes: $0.baseAddress!, length: Int(length)) }
    }

    /// The outcome of a non-blocking read or write.
    package enum IOResult: Sendable, Hashable {
        /// This many bytes moved (> 0).
        case bytes(Int)
        /// The socket cannot move bytes now (EAGAIN).
        case wouldBlock
        /// The peer closed its side (read returned 0).
        case endOfFile
    }

    /// Reads into `buffer` without blocking.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> IOResult {
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, 0)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .endOfFile }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let code: throw .fromErrno(code, call: "recv")
            }
        }
    }

    /// Writes from `buffer` without blocking and without raising SIGPIPE.
    package func write(_ buffer: UnsafeRawBufferPointer) throws(SocketError) -> IOResult {
        guard buffer.count > 0 else { return .bytes(0) }
        #if canImport(Darwin)
        let flags: Int32 = 0
        #else
        let flags = Int32(MSG_NOSIGNAL)
        #endif
        while true {
            let count = send(descriptor, buffer.baseAddress, buffer.count, flags)
            if count >= 0 { return .bytes(count) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case let code: throw .fromErrno(code, call: "send")
            }
        }
    }

    /// Starts a non-blocking connect to `address`: 0 when connected at once, else the errno
    /// (`EINPROGRESS`: wait until the socket is writable, then read `SO_ERROR`).
    package func startConnect(to address: SocketAddress) -> Int32 {
        let result = address.withSockAddr { systemConnect(descriptor, $0, $1) }
        return result == 0 ? 0 : errno
    }

    /// Shuts down both directions (wakes a blocked peer, sends FIN).
    package func shutdown() {
        _ = systemShutdown(descriptor)
    }

    /// Closes the descriptor with an RST instead of a FIN (SO_LINGER 0): for tests that need
    /// an abrupt reset and for connections dropped on purpose.
    package func abort() {
        var lingerOption = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &lingerOption, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    /// Closes the descriptor.
    package func close() {
        #if canImport(Darwin)
        _ = Darwin.close(descriptor)
        #else
        _ = Glibc.close(descriptor)
        #endif
    }
}

private func systemShutdown(_ descriptor: Int32) -> Int32 {
    #if canImport(Darwin)
    Darwin.shutdown(descriptor, SHUT_RDWR)
    #else
    Glibc.shutdown(descriptor, Int32(SHUT_RDWR))
    #endif
}

private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    #if canImport(Darwin)
    Darwin.connect(fd, address, length)
    #else
    Glibc.connect(fd, address, length)
    #endif
}
