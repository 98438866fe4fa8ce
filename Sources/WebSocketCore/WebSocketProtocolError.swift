/// A violation of RFC 6455 by the peer, or of a configured limit, found while reading.
///
/// Each case maps to the close code the connection is failed with (``closeCode``).
package enum WebSocketProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// RSV1-3 set while no extension that defines them was negotiated. (1002)
    case reservedBitsSet(UInt8)
    /// An opcode RFC 6455 does not define (3-7, 0xB-0xF). (1002)
    case unknownOpcode(UInt8)
    /// A masked frame arrived at a client: servers must not mask. (1002)
    case unexpectedMask
    /// An unmasked frame arrived at a server: clients must mask. (1002)
    case missingMask
    /// A control frame with FIN clear. (1002)
    case fragmentedControlFrame
    /// A control frame announcing more than 125 bytes of payload. (1002)
    case controlFrameTooLong(UInt64)
    /// A 64-bit payload length with its most significant bit set. (1002)
    case invalidPayloadLength
    /// A continuation frame with no fragmented message in progress. (1002)
    case unexpectedContinuation
    /// A new text or binary frame while a fragmented message is still in progress. (1002)
    case expectedContinuation
    /// A close frame with a one-byte payload. (1002)
    case invalidClosePayload
    /// A close frame carrying a status code that may not be sent (RFC 6455 section 7.4). (1002)
    case invalidCloseCode(UInt16)
    /// Text (a message or a close reason) that is not valid UTF-8. (1007)
    case invalidUTF8
    /// A frame larger than the configured maximum frame size. (1009)
    case frameTooLarge(UInt64, limit: Int)
    /// A message larger than the configured maximum message size, after decompression when
    /// it was compressed. (1009)
    case messageTooLarge(limit: Int)
    /// A compressed message (permessage-deflate) whose data zlib cannot inflate. (1007)
    case invalidCompressedData
    /// RSV1 on a continuation or control frame, where permessage-deflate does not allow it. (1002)
    case compressedFrameNotAllowed(WebSocketOpcode)

    /// The close code this violation fails the connection with.
    package var closeCode: WebSocketCloseCode {
        switch self {
        case .invalidUTF8, .invalidCompressedData: .invalidPayloadData
        case .frameTooLarge, .messageTooLarge: .messageTooBig
        default: .protocolError
        }
    }

    /// A short reason for the close frame (well under the 123 bytes a close reason may take).
    package var description: String {
        switch self {
        case .reservedBitsSet(let bits): "reserved bits set (0x\(String(bits, radix: 16)))"
        case .unknownOpcode(let opcode): "unknown opcode 0x\(String(opcode, radix: 16))"
        case .unexpectedMask: "masked frame from server"
        case .missingMask: "unmasked frame from client"
        case .fragmentedControlFrame: "fragmented control frame"
        case .controlFrameTooLong(let length): "control frame of \(length) bytes"
        case .invalidPayloadLength: "invalid 64-bit payload length"
        case .unexpectedContinuation: "continuation without a message"
        case .expectedContinuation: "new message inside a fragmented one"
        case .invalidClosePayload: "close payload of 1 byte"
        case .invalidCloseCode(let code): "invalid close code \(code)"
        case .invalidUTF8: "invalid UTF-8"
        case .frameTooLarge(let length, let limit): "frame of \(length) bytes exceeds \(limit)"
        case .messageTooLarge(let limit): "message exceeds \(limit) bytes"
        case .invalidCompressedData: "invalid compressed data"
        case .compressedFrameNotAllowed(let opcode): "RSV1 on a \(opcode) frame"
        }
    }
}
