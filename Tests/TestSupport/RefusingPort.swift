import Foundation
import Locking
import TCPTransport

/// A loopback port where nothing listens, held for the test's duration: a socket bound to it
/// but not listening answers a connect with a reset, and no test running in parallel can
/// take the port (as one could right after a listener on it closed).
package final class RefusingPort: Sendable {
    private let holder: Socket
    private let closed = LockedValue(false)
    /// The port.
    package let port: Int

    package init() throws {
        let holder = try Socket.makeTCP(family: AF_INET)
        let descriptor = holder.descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        guard bound == 0, named == 0 else {
            holder.close()
            throw RawPeerError(description: "cannot bind a loopback port")
        }
        self.holder = holder
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Lets the port go (a server may bind it now).
    package func release() {
        let first = closed.withLock { closed -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { holder.close() }
    }

    deinit { release() }
}
