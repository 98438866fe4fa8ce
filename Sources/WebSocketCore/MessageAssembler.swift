import UTF8Validation

/// Payload bytes handed out by ``MessageAssembler`` and ``WebSocketSession``: lent from the
/// input chunk when a message arrived whole in one read (no copy), or owned when it had to be
/// reassembled from fragments or reads.
package enum AssembledPayload {
    /// Bytes inside the caller's input buffer; valid only until that buffer is reused.
    case borrowed(UnsafeRawBufferPointer)
    /// Bytes the assembler collected; the array is handed over, not copied.
    case owned([UInt8])

    /// Runs `body` over the bytes without copying them.
    @inlinable
    package func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch self {
        case .borrowed(let pointer): try body(pointer)
        case .owned(let array): try array.withUnsafeBytes(body)
        }
    }

    /// The bytes as an array (a copy for borrowed bytes, free for owned ones).
    package var array: [UInt8] {
        switch self {
        case .borrowed(let pointer): Array(pointer)
        case .owned(let array): array
        }
    }

    /// The bytes decoded as a String. Only call on bytes already validated as UTF-8.
    package var string: String {
        withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The number of bytes.
    package var count: Int {
        switch self {
        case .borrowed(let pointer): pointer.count
        case .owned(let array): array.count
        }
    }
}

/// Turns frame parts into messages and control frames (RFC 6455 sections 5.4 and 5.5).
///
/// - Reassembles fragmented text and binary messages; control frames may arrive between
///   fragments and are reported at once.
/// - Validates text as UTF-8 incrementally, part by part, so an invalid byte fails the
///   connection as soon as it arrives, also when a code point is split across fragments.
/// - Enforces the maximum message size before buffering a frame's payload.
/// - Lends the payload of a message that arrived whole in one part; copies otherwise.
package struct MessageAssembler: Sendable {
    /// One thing assembled from frames.
    package enum Output {
        case text(AssembledPayload)
        case binary(AssembledPayload)
        case ping(AssembledPayload)
        case pong(AssembledPayload)
        case close(AssembledPayload)
    }

    private enum State: Sendable {
        /// Between messages.
        case idle
        /// Inside a fragmented (or split) message whose first frame had this opcode.
        case inMessage(WebSocketOpcode)
        /// Inside a compressed message (RSV1 on its first frame) whose first frame had this opcode.
        case inCompressedMessage(WebSocketOpcode)
    }

    /// The largest message, summed over its fragments (after decompression); larger ones fail with 1009.
    package let maxMessageSize: Int
    private var state: State = .idle
    private var messageBuffer: [UInt8] = []
    private var controlBuffer: [UInt8] = []
    private var validator = UTF8Validator()
    /// The peer's compressed messages are inflated here, when permessage-deflate was negotiated.
    package let decompressor: DeflateDecompressor?
    /// How many inflated bytes of the current message are already UTF-8-validated.
    private var validatedCount = 0

    /// An assembler; with `deflate`, messages with RSV1 are inflated (RFC 7692).
    package init(maxMessageSize: Int, deflate: PerMessageDeflate? = nil) {
        self.maxMessageSize = maxMessageSize
        decompressor = deflate.map { DeflateDecompressor(windowBits: $0.decompressWindowBits, resetsAfterEachMessage: $0.decompressResets) }
    }

    /// Consumes one frame part and returns what it completed, if anything.
    /// - Throws: ``WebSocketProtocolError`` for a continuation without a message, a new
    ///   message inside a fragmented one, invalid UTF-8 or an oversized message.
    package mutating func consume(_ part: FramePart) throws(WebSocketProtocolError) -> Output? {
        let header = part.header
        if header.opcode.isControl {
            return consumeControl(part)
        }
        if case .inCompressedMessage(let opcode) = state {
            if part.isFrameStart && header.opcode != .continuation { throw .expectedContinuation }
            return try consumeCompressed(part, opcode: opcode)
        }
        if part.isFrameStart && header.reservedBits & 0b100 != 0 {
            // The decoder lets RSV1 through only when permessage-deflate was negotiated, and only
            // on text and binary frames.
            guard let decompressor else { throw .reservedBitsSet(header.reservedBits) }
            guard case .idle = state else { throw .expectedContinuation }
            decompressor.startMessage()
            validator = UTF8Validator()
            validatedCount = 0
            state = .inCompressedMessage(header.opcode)
            return try consumeCompressed(part, opcode: header.opcode)
        }
        if part.isFrameStart {
            switch (state, header.opcode) {
            case (.idle, .continuation):
                throw .unexpectedContinuation
            case (.inMessage, .text), (.inMessage, .binary), (.inCompressedMessage, _):
                throw .expectedContinuation
            case (.inMessage, _):
                if header.payloadLength > maxMessageSize - messageBuffer.count {
                    throw .messageTooLarge(limit: maxMessageSize)
                }
            case (.idle, let opcode):
                if header.payloadLength > maxMessageSize { throw .messageTooLarge(limit: maxMessageSize) }
                if header.fin && part.isFrameEnd {
                    // A single-frame message that arrived whole in one read is lent, never copied.
                    if opcode == .text && !UTF8Validator.isValid(part.payload) { throw .invalidUTF8 }
                    return opcode == .text ? .text(.borrowed(part.payload)) : .binary(.borrowed(part.payload))
                }
                validator = UTF8Validator()
                state = .inMessage(opcode)
                messageBuffer.reserveCapacity(header.payloadLength)
            }
        }
        guard case .inMessage(let opcode) = state else {
            preconditionFailure("Internal inconsistency: a data frame part outside a message")
        }
        if opcode == .text {
            guard validator.validate(part.payload) else { throw .invalidUTF8 }
        }
        messageBuffer.append(contentsOf: part.payload)
        guard part.isFrameEnd && header.fin else { return nil }
        if opcode == .text && !validator.isAtCodePointBoundary { throw .invalidUTF8 }
        let payload = AssembledPayload.owned(messageBuffer)
        messageBuffer = []
        state = .idle
        return opcode == .text ? .text(payload) : .binary(payload)
    }

    /// A part of a compressed message: inflated at once, under the message limit, and
    /// validated as it inflates; the whole message is lent from the decompressor's buffer.
    private mutating func consumeCompressed(_ part: FramePart, opcode: WebSocketOpcode) throws(WebSocketProtocolError) -> Output? {
        guard let decompressor else { throw .reservedBitsSet(part.header.reservedBits) }
        let finished = part.isFrameEnd && part.header.fin
        do throws(WebSocketProtocolError) {
            try decompressor.decompress(part.payload, limit: maxMessageSize)
            if finished { try decompressor.finishMessage(limit: maxMessageSize, reset: decompressor.resetsAfterEachMessage) }
        } catch {
            // What inflated before the failure is checked first, so that the first fault in
            // stream order wins however the input was split (found by the fuzzer: invalid
            // UTF-8 ahead of corrupt data, seen one way byte by byte and the other way whole).
            if opcode == .text { try validateInflated(upTo: min(decompressor.count, maxMessageSize), in: decompressor) }
            throw error
        }
        if opcode == .text {
            try validateInflated(upTo: decompressor.count, in: decompressor)
            if finished && !validator.isAtCodePointBoundary { throw .invalidUTF8 }
        }
        guard finished else { return nil }
        state = .idle
        let payload = AssembledPayload.borrowed(decompressor.bytes)
        return opcode == .text ? .text(payload) : .binary(payload)
    }

    /// Validates the inflated text from where the last check stopped up to `end`.
    private mutating func validateInflated(upTo end: Int, in decompressor: DeflateDecompressor) throws(WebSocketProtocolError) {
        guard end > validatedCount else { return }
        let inflated = decompressor.bytes
        guard validator.validate(UnsafeRawBufferPointer(rebasing: inflated[validatedCount..<end])) else { throw .invalidUTF8 }
        validatedCount = end
    }

    private mutating func consumeControl(_ part: FramePart) -> Output? {
        let payload: AssembledPayload
        if part.isWholeFrame {
            payload = .borrowed(part.payload)
        } else {
            if part.isFrameStart { controlBuffer.removeAll(keepingCapacity: true) }
            controlBuffer.append(contentsOf: part.payload)
            guard part.isFrameEnd else { return nil }
            payload = .owned(controlBuffer)
        }
        switch part.header.opcode {
        case .ping: return .ping(payload)
        case .pong: return .pong(payload)
        default: return .close(payload)
        }
    }
}
