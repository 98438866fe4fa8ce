/// Where a client's frame encoder takes its masking keys from.
///
/// RFC 6455 section 5.3 requires keys an attacker cannot predict, so the default,
/// ``SecureRandomMaskingKeys``, draws from the system CSPRNG. Tests inject a
/// fixed sequence to assert exact bytes.
package protocol MaskingKeySource: Sendable {
    /// Returns the key for the next frame.
    mutating func nextKey() -> WebSocketMaskingKey
}

/// Masking keys from the system CSPRNG, fetched 256 bytes at a time so that most frames
/// cost no call into the generator.
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
        pool = [UInt8](repeating: 0, count: 256)
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

/// Fills `buffer` from the system's cryptographically secure generator
/// (`SystemRandomNumberGenerator`: `getrandom` on Linux, `arc4random` on Darwin).
package func fillWithSecureRandomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
    var generator = SystemRandomNumberGenerator()
    var index = 0
    while index < buffer.count {
        var word = generator.next()
        let take = min(8, buffer.count - index)
        withUnsafeBytes(of: &word) { wordBytes in
            for offset in 0..<take { buffer[index + offset] = wordBytes[offset] }
        }
        index += take
    }
}
