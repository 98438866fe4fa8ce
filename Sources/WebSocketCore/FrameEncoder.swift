/// Encodes WebSocket frames (RFC 6455 section 5.2) by appending them to a byte buffer.
///
/// A client masks every frame with a fresh key from its ``MaskingKeySource``; a server never
/// masks. The payload is copied once, straight into the output buffer, and masked there in
/// machine words.
package enum FrameEncoder {
    /// Appends one frame to `output`.
    ///
    /// - Parameters:
    ///   - opcode: The frame's opcode.
    ///   - fin: Whether this is the final fragment of its message.
    ///   - reservedBits: RSV1-3 (low three bits); 0 unless an extension defines them.
    ///   - payload: The unmasked payload.
    ///   - maskingKey: The key to mask with (clients), or nil (servers).
    ///   - output: The buffer the frame is appended to.
    @inlinable
    package static func append(opcode: WebSocketOpcode, fin: Bool = true, reservedBits: UInt8 = 0,
                               payload: UnsafeRawBufferPointer, maskingKey: WebSocketMaskingKey?,
                               to output: inout [UInt8]) {
        let length = payload.count
        // The header is built in a 16-byte local and appended with one copy.
        var header: (UInt64, UInt64) = (0, 0)
        let headerSize = withUnsafeMutableBytes(of: &header) { bytes -> Int in
            bytes[0] = (fin ? 0x80 : 0) | ((reservedBits & 0x7) << 4) | opcode.rawValue
            let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
            var size = 2
            if length <= 125 {
                bytes[1] = maskBit | UInt8(length)
            } else if length <= 0xFFFF {
                bytes[1] = maskBit | 126
                bytes.storeBytes(of: UInt16(length).bigEndian, toByteOffset: 2, as: UInt16.self)
                size = 4
            } else {
                bytes[1] = maskBit | 127
                bytes.storeBytes(of: UInt64(length).bigEndian, toByteOffset: 2, as: UInt64.self)
                size = 10
            }
            if let key = maskingKey {
                bytes[size] = key.bytes.0
                bytes[size + 1] = key.bytes.1
                bytes[size + 2] = key.bytes.2
                bytes[size + 3] = key.bytes.3
                size += 4
            }
            return size
        }
        let start = output.count
        output.reserveCapacity(start + headerSize + length)
        withUnsafeBytes(of: &header) { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[..<headerSize])) }
        output.append(contentsOf: payload)
        if let key = maskingKey, length > 0 {
            output.withUnsafeMutableBytes { buffer in
                _ = key.apply(to: UnsafeMutableRawBufferPointer(rebasing: buffer[(start + headerSize)...]))
            }
        }
    }

    /// Appends one frame whose payload is a byte array.
    @inlinable
    package static func append(opcode: WebSocketOpcode, fin: Bool = true, reservedBits: UInt8 = 0,
                               payload: [UInt8], maskingKey: WebSocketMaskingKey?, to output: inout [UInt8]) {
        payload.withUnsafeBytes {
            append(opcode: opcode, fin: fin, reservedBits: reservedBits, payload: $0, maskingKey: maskingKey, to: &output)
        }
    }

    /// Encodes one frame into a new array.
    package static func encode(_ frame: WebSocketFrame) -> [UInt8] {
        var output: [UInt8] = []
        append(opcode: frame.opcode, fin: frame.fin, reservedBits: frame.reservedBits,
               payload: frame.payload, maskingKey: frame.maskingKey, to: &output)
        return output
    }
}
