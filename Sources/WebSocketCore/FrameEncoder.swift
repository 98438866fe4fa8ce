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
        let headerSize = FrameHeader.encodedSize(payloadLength: length, masked: maskingKey != nil)
        let start = output.count
        output.reserveCapacity(start + headerSize + length)
        output.append((fin ? 0x80 : 0) | ((reservedBits & 0x7) << 4) | opcode.rawValue)
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        if length <= 125 {
            output.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            output.append(maskBit | 126)
            output.append(UInt8(length >> 8))
            output.append(UInt8(length & 0xFF))
        } else {
            output.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                output.append(UInt8((UInt64(length) >> UInt64(shift)) & 0xFF))
            }
        }
        if let key = maskingKey {
            output.append(key.bytes.0)
            output.append(key.bytes.1)
            output.append(key.bytes.2)
            output.append(key.bytes.3)
        }
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
