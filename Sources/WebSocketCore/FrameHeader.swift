/// The decoded header of one WebSocket frame (RFC 6455 section 5.2).
package struct FrameHeader: Hashable, Sendable {
    /// FIN: this is the final fragment of its message.
    package var fin: Bool
    /// RSV1, RSV2, RSV3 as the low three bits (RSV1 = 0b100).
    package var reservedBits: UInt8
    package var opcode: WebSocketOpcode
    /// The masking key, present exactly when the MASK bit is set.
    package var maskingKey: WebSocketMaskingKey?
    /// The payload length announced by the header.
    package var payloadLength: Int

    package init(fin: Bool = true, reservedBits: UInt8 = 0, opcode: WebSocketOpcode,
                 maskingKey: WebSocketMaskingKey? = nil, payloadLength: Int) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    /// How many bytes this header takes on the wire (2 to 14).
    package var encodedSize: Int {
        Self.encodedSize(payloadLength: payloadLength, masked: maskingKey != nil)
    }

    /// How many bytes a header for a payload of `payloadLength` takes on the wire.
    @inlinable
    package static func encodedSize(payloadLength: Int, masked: Bool) -> Int {
        let lengthBytes = payloadLength <= 125 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + lengthBytes + (masked ? 4 : 0)
    }
}

/// A whole frame with its (unmasked) payload: the unit tests and tools work with.
///
/// The decoder itself never builds these on the hot path; it lends payload parts
/// (``FramePart``). ``FrameCollector`` collects parts into frames.
package struct WebSocketFrame: Hashable, Sendable {
    package var fin: Bool
    package var reservedBits: UInt8
    package var opcode: WebSocketOpcode
    package var maskingKey: WebSocketMaskingKey?
    /// The payload after unmasking.
    package var payload: [UInt8]

    package init(fin: Bool = true, reservedBits: UInt8 = 0, opcode: WebSocketOpcode,
                 maskingKey: WebSocketMaskingKey? = nil, payload: [UInt8]) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payload = payload
    }
}

/// A piece of one frame's payload, lent by ``FrameDecoder`` and already unmasked.
///
/// A frame that arrived whole in one read is one part (`isFrameStart && isFrameEnd`); a frame
/// split across reads is several. `payload` points into the buffer given to the decoder and
/// is valid only until that buffer is reused.
package struct FramePart {
    package var header: FrameHeader
    package var payload: UnsafeRawBufferPointer
    /// This part begins the frame's payload (the header was just decoded).
    package var isFrameStart: Bool
    /// This part ends the frame's payload.
    package var isFrameEnd: Bool

    /// The frame is complete in this one part.
    package var isWholeFrame: Bool { isFrameStart && isFrameEnd }
}
