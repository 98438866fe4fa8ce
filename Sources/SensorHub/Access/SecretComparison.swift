import WebSocketCore

/// Compares a presented secret with the expected one without revealing how much of a guess
/// was right: both are hashed (SHA-1, fixed 20 bytes) and the digests compared without an
/// early exit, so the time depends on the lengths (hashing) but not on where the strings
/// first differ.
package enum SecretComparison {
    /// Whether `presented` equals `expected`.
    package static func matches(_ presented: String, _ expected: String) -> Bool {
        let left = SHA1.hash(Array(presented.utf8)), right = SHA1.hash(Array(expected.utf8))
        var difference: UInt8 = 0
        for index in 0..<min(left.count, right.count) { difference |= left[index] ^ right[index] }
        return difference == 0 && left.count == right.count
    }
}
