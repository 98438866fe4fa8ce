#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Where a client's frame encoder takes its masking keys from.
///
/// RFC 6455 section 5.3 requires keys an attacker cannot predict, so the default,
/// ``SecureRandomMaskingKeys``, draws from the system CSPRNG. Tests inject a
/// fixed sequence to assert exact bytes.
package protocol MaskingKeySource: Sendable {
    /// Returns the key for the next frame.
    mutating func nextKey() -> WebSocketMaskingKey
}

/// Masking keys from the system CSPRNG, fetched 4 KiB (1,024 keys) at a time so that a
/// frame costs no system call.
package struct SecureRandomMaskingKeys: MaskingKeySource {
    private var pool: [UInt8] = []
    private var next = 0

    package init() {}

    package mutating func nextKey() -> WebSocketMaskingKey {
        if next + 4 > pool.count { refill() }
        defer { next += 4 }
        return pool.withUnsafeBytes { WebSocketMaskingKey(wireBytes: $0.baseAddress! + next) }
    }

    private mutating func refill() {
        if pool.isEmpty { pool = [UInt8](repeating: 0, count: 4096) }
        next = 0
        pool.withUnsafeMutableBytes { buffer in
            fillWithSecureRandomBytes(buffer)
        }
    }
}

/// A fixed, repeating sequence of keys, for tests and benchmarks that need exact bytes.
package struct FixedMaskingKeys: MaskingKeySource {
    private let keys: [WebSocketMaskingKey]
    private var index = 0

    package init(_ keys: [WebSocketMaskingKey]) {
        precondition(!keys.isEmpty, "FixedMaskingKeys needs at least one key")
        self.keys = keys
    }

    package mutating func nextKey() -> WebSocketMaskingKey {
        defer { index = (index + 1) % keys.count }
        return keys[index]
    }
}

/// Fills `buffer` from the operating system's cryptographically secure generator: one
/// `arc4random_buf` on Darwin, one read of `/dev/urandom` on Linux (the kernel CSPRNG, the
/// same source as `getrandom`), falling back to `SystemRandomNumberGenerator` (8 bytes per
/// call) if the device cannot be read.
package func fillWithSecureRandomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    #if canImport(Darwin)
    arc4random_buf(base, buffer.count)
    #else
    var filled = 0
    let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    if descriptor >= 0 {
        while filled < buffer.count {
            let count = read(descriptor, base + filled, buffer.count - filled)
            if count > 0 {
                filled += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(descriptor)
    }
    var generator = SystemRandomNumberGenerator()
    while filled < buffer.count {
        var word = generator.next()
        let take = min(8, buffer.count - filled)
        withUnsafeBytes(of: &word) { base.advanced(by: filled).copyMemory(from: $0.baseAddress!, byteCount: take) }
        filled += take
    }
    #endif
}
