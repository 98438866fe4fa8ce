/// The 4-byte key a client XORs over every payload it sends (RFC 6455 section 5.3).
package struct WebSocketMaskingKey: Hashable, Sendable, CustomStringConvertible {
    /// The four key bytes in wire order.
    package var bytes: (UInt8, UInt8, UInt8, UInt8)

    package init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        bytes = (b0, b1, b2, b3)
    }

    /// Reads the key from 4 bytes in wire order.
    package init(wireBytes pointer: UnsafeRawPointer) {
        bytes = (pointer.load(as: UInt8.self), pointer.load(fromByteOffset: 1, as: UInt8.self),
                 pointer.load(fromByteOffset: 2, as: UInt8.self), pointer.load(fromByteOffset: 3, as: UInt8.self))
    }

    package subscript(index: Int) -> UInt8 {
        switch index & 3 {
        case 0: bytes.0
        case 1: bytes.1
        case 2: bytes.2
        default: bytes.3
        }
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.bytes == rhs.bytes
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.0); hasher.combine(bytes.1); hasher.combine(bytes.2); hasher.combine(bytes.3)
    }

    package var description: String {
        [bytes.0, bytes.1, bytes.2, bytes.3].map { String($0, radix: 16) }.joined(separator: " ")
    }

    /// The key repeated over 8 bytes, starting at key byte `offset % 4`, as a little-endian word
    /// ready to XOR over 8 payload bytes loaded from memory.
    @inlinable
    package func word(startingAt offset: Int) -> UInt64 {
        var word: UInt64 = 0
        for index in 0..<8 {
            word |= UInt64(self[offset &+ index]) << (UInt64(index) &* 8)
        }
        return UInt64(littleEndian: word)
    }

    /// XORs the key over `buffer` in place, as if `buffer` began at byte `offset` of a payload,
    /// and returns the offset for the chunk that follows (`(offset + buffer.count) % 4`).
    ///
    /// Works 8 bytes at a time (unaligned loads and stores), then finishes the tail bytewise.
    /// Masking and unmasking are the same operation.
    @inlinable
    @discardableResult
    package func apply(to buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return offset & 3 }
        let count = buffer.count
        var index = 0
        if count >= 8 {
            // After XORing 8 bytes the key phase advances by 8 = 0 mod 4: the word stays the same.
            let pattern = word(startingAt: offset)
            let wideEnd = count & ~7
            while index < wideEnd {
                let value = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                base.storeBytes(of: value ^ pattern, toByteOffset: index, as: UInt64.self)
                index &+= 8
            }
        }
        while index < count {
            base.storeBytes(of: base.load(fromByteOffset: index, as: UInt8.self) ^ self[offset &+ index],
                            toByteOffset: index, as: UInt8.self)
            index &+= 1
        }
        return (offset &+ count) & 3
    }
}
