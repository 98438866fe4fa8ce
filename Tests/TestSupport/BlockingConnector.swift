#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

import TCPTransport

/// Blocking TCP connect for test peers (the fault proxy's upstream, raw clients): resolves the
/// host, tries each address in turn within one deadline. The library itself connects on its
/// event loop (`StreamConnector` in ConnectionCore).
package enum TCPConnector {
    /// Connects to `host`:`port`, trying every resolved address (IPv6 and IPv4) until one
    /// accepts, all within `timeout`. Blocks the calling thread: call it off the cooperative pool.
    /// - Parameter receiveBuffer: a receive buffer size (SO_RCVBUF) set before the connect, so
    ///   the window TCP negotiates fits it (a peer that reads slowly); nil keeps the system's.
    ///   Shrinking it after the connect makes the kernel drop what the window let in, and the
    ///   sender stalls on retransmission timeouts.
    /// - Returns: A connected, non-blocking socket with TCP_NODELAY.
    /// - Throws: ``SocketError``: the last address's failure, or ``SocketError/timedOut``.
    package static func connect(host: String, port: Int, timeout: Duration, receiveBuffer: Int? = nil,
                                isCancelled: () -> Bool = { false }) throws(SocketError) -> Socket {
        let deadline = ContinuousClock.now + timeout
        let addresses = try SocketAddress.resolve(host: host, port: port)
        var lastError = SocketError.connectionRefused
        for address in addresses {
            if isCancelled() { throw .system(call: "connect", errno: ECANCELED) }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { throw .timedOut }
            do {
                return try connect(to: address, timeout: remaining, receiveBuffer: receiveBuffer, isCancelled: isCancelled)
            } catch {
                lastError = error
                if case .timedOut = error, ContinuousClock.now >= deadline { throw error }
            }
        }
        throw lastError
    }

    /// Connects to one address within `timeout` (`receiveBuffer` as above).
    package static func connect(to address: SocketAddress, timeout: Duration, receiveBuffer: Int? = nil,
                                isCancelled: () -> Bool = { false }) throws(SocketError) -> Socket {
        let socket = try Socket.makeTCP(family: address.family)
        do throws(SocketError) {
            if let receiveBuffer {
                var size = Int32(clamping: receiveBuffer)
                guard setsockopt(socket.descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw SocketError.fromErrno(errno, call: "setsockopt(SO_RCVBUF)")
                }
            }
            let code = socket.startConnect(to: address)
            if code != 0 {
                guard code == EINPROGRESS || code == EINTR else { throw SocketError.fromErrno(code, call: "connect") }
                let deadline = ContinuousClock.now + timeout
                while true {
                    if isCancelled() { throw SocketError.system(call: "connect", errno: ECANCELED) }
                    let remaining = ContinuousClock.now.duration(to: deadline)
                    guard remaining > .zero else { throw SocketError.timedOut }
                    // Wake up at least every 100 ms to notice cancellation.
                    let slice = min(remaining, .milliseconds(100))
                    let events = try pollDescriptors([(socket.descriptor, .writable)], timeoutMilliseconds: slice.milliseconds)
                    if !events[0].isEmpty { break }
                }
                var code: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                guard getsockopt(socket.descriptor, SOL_SOCKET, SO_ERROR, &code, &length) == 0 else {
                    throw SocketError.fromErrno(errno, call: "getsockopt")
                }
                if code != 0 { throw SocketError.fromErrno(code, call: "connect") }
            }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }
}
