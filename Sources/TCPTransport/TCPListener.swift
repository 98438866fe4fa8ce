#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket.
package struct TCPListener: Sendable {
    package let socket: Socket
    /// The port actually bound (the one chosen by the system when asked for port 0).
    package let port: Int
    package let address: SocketAddress

    /// Binds and listens on `host`:`port` (port 0 picks a free one).
    /// - Throws: ``SocketError`` (``SocketError/addressInUse``, resolution failures ...).
    package static func bind(host: String, port: Int, backlog: Int32 = 256) throws(SocketError) -> TCPListener {
        let addresses = try SocketAddress.resolve(host: host, port: port, passive: true)
        var lastError = SocketError.addressInUse
        for address in addresses {
            let socket: Socket
            do {
                socket = try Socket.makeTCP(family: address.family)
            } catch {
                lastError = error
                continue
            }
            try? socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
            let bound = address.withSockAddr { systemBind(socket.descriptor, $0, $1) }
            guard bound == 0, listen(socket.descriptor, backlog) == 0, let local = socket.localAddress else {
                lastError = .fromErrno(errno, call: "bind")
                socket.close()
                continue
            }
            return TCPListener(socket: socket, port: local.port, address: local)
        }
        throw lastError
    }

    /// Accepts one pending connection without blocking; nil if none is pending.
    package func accept() throws(SocketError) -> Socket? {
        while true {
            let fd = systemAccept(socket.descriptor)
            if fd >= 0 {
                let accepted = Socket(descriptor: fd)
                do {
                    try accepted.configure()
                } catch {
                    accepted.close()
                    continue
                }
                return accepted
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            case let code: throw .fromErrno(code, call: "accept")
            }
        }
    }
}

private func systemBind(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    #if canImport(Darwin)
    Darwin.bind(fd, address, length)
    #else
    Glibc.bind(fd, address, length)
    #endif
}

private func systemAccept(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    Darwin.accept(fd, nil, nil)
    #else
    Glibc.accept(fd, nil, nil)
    #endif
}
