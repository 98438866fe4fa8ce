/// An incremental UTF-8 validator (Unicode 15, table 3-7 "well-formed UTF-8 byte sequences").
///
/// Feed it a text message in any number of pieces (TCP reads, fragments): a code point may be
/// split anywhere. It fails fast, on the first byte that cannot start or continue a
/// well-formed sequence, and ``isAtCodePointBoundary`` tells at the end of a message whether a
/// sequence was left unfinished. ASCII runs are checked 8 bytes at a time.
package struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes still expected by the current sequence (0 = at a boundary).
    private var pending: UInt8 = 0
    /// The smallest and largest value the next continuation byte may take. Only the byte
    /// after a lead byte has a range narrower than 0x80...0xBF (E0, ED, F0, F4).
    private var lowerBound: UInt8 = 0x80
    private var upperBound: UInt8 = 0xBF

    package init() {}

    /// True when no multi-byte sequence is open: a message may end here.
    package var isAtCodePointBoundary: Bool { pending == 0 }

    /// Validates the next piece of text. Returns false at the first invalid byte; the
    /// validator's state is then unspecified (the connection fails anyway).
    @inlinable
    package mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        return validate(base, count: bytes.count)
    }

    @usableFromInline
    mutating func validate(_ base: UnsafeRawPointer, count: Int) -> Bool {
        var index = 0
        while index < count {
            if pending == 0 {
                // ASCII fast path: 8 bytes at a time while no byte has its high bit set.
                while index &+ 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index &+= 8
                }
                guard index < count else { return true }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index &+= 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: pending = 1; lowerBound = 0x80; upperBound = 0xBF
                case 0xE0: pending = 2; lowerBound = 0xA0; upperBound = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2; lowerBound = 0x80; upperBound = 0xBF
                case 0xED: pending = 2; lowerBound = 0x80; upperBound = 0x9F
                case 0xF0: pending = 3; lowerBound = 0x90; upperBound = 0xBF
                case 0xF1...0xF3: pending = 3; lowerBound = 0x80; upperBound = 0xBF
                case 0xF4: pending = 3; lowerBound = 0x80; upperBound = 0x8F
                default: return false  // 0x80...0xC1 and 0xF5...0xFF never start a sequence
                }
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                guard byte >= lowerBound && byte <= upperBound else { return false }
                index &+= 1
                pending &-= 1
                lowerBound = 0x80
                upperBound = 0xBF
            }
        }
        return true
    }

    /// Validates a complete piece of text in one call: true if `bytes` is well-formed UTF-8.
    package static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isAtCodePointBoundary
    }

    /// Validates a complete byte array as UTF-8.
    package static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }
}
