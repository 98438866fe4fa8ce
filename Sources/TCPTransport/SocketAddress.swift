#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 socket address.
package struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The raw address (a `sockaddr_in` or `sockaddr_in6`) in bytes.
    private let storage: [UInt8]

    package init(bytes: UnsafeRawPointer, length: Int) {
        storage = Array(UnsafeRawBufferPointer(start: bytes, count: length))
    }

    /// AF_INET or AF_INET6.
    package var family: Int32 {
        storage.withUnsafeBytes { Int32($0.baseAddress!.assumingMemoryBound(to: sockaddr.self).pointee.sa_family) }
    }

    /// The address length for `connect` and `bind`.
    package var length: socklen_t { socklen_t(storage.count) }

    /// Runs `body` with the address as a `sockaddr` pointer.
    package func withSockAddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBytes { try body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), length) }
    }

    /// The port, in host order.
    package var port: Int {
        storage.withUnsafeBytes { bytes in
            // sin_port and sin6_port sit at the same offset (2), in network order.
            Int(UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
        }
    }

    /// The numeric host, e.g. "127.0.0.1" or "::1".
    package var host: String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let result = withSockAddr { address, length in
            getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
        }
        guard result == 0 else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    package var description: String {
        family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Resolves `host` for a TCP connection to `port`: every IPv6 and IPv4 address, in the
    /// order the system prefers (RFC 6724). Blocks while the resolver works.
    /// - Parameter numericOnly: accept only an IP literal ("127.0.0.1", "::1"): never asks a
    ///   resolver, so it does not block and may run on an event loop.
    /// - Throws: ``SocketError/nameResolutionFailed(host:reason:)`` (with `numericOnly`, for
    ///   any name that is not a literal).
    package static func resolve(host: String, port: Int, passive: Bool = false, numericOnly: Bool = false) throws(SocketError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = SocketType.stream
        hints.ai_protocol = Int32(IPPROTO_TCP)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) | (numericOnly ? AI_NUMERICHOST : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw .nameResolutionFailed(host: host, reason: reason)
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr,
               current.pointee.ai_family == AF_INET || current.pointee.ai_family == AF_INET6 {
                let resolved = SocketAddress(bytes: address, length: Int(current.pointee.ai_addrlen))
                if !addresses.contains(resolved) { addresses.append(resolved) }
            }
            entry = current.pointee.ai_next
        }
        if addresses.isEmpty { throw .nameResolutionFailed(host: host, reason: "no IPv4 or IPv6 address") }
        return addresses
    }
}

/// Platform spellings of socket constants.
package enum SocketType {
    #if canImport(Darwin)
    package static let stream = SOCK_STREAM
    #else
    package static let stream = Int32(SOCK_STREAM.rawValue)
    #endif
}
