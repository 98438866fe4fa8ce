/// A resumable, zero-copy WebSocket frame decoder (RFC 6455 section 5.2).
///
/// Feed it bytes in arbitrary chunks; it lends back ``FramePart``s: pieces of frame payload,
/// unmasked in place, pointing into the chunk. It copies nothing but a header split across
/// chunks (at most 14 bytes), so frames that arrive whole cost no allocation. Every header
/// field is validated as soon as it is complete, before any payload is accepted: reserved
/// bits, opcode, masking for the role, control-frame rules, 64-bit length, size limit.
///
/// ```swift
/// var cursor = 0
/// while let part = try decoder.nextPart(in: chunk, cursor: &cursor) { ... }
/// ```
package struct FrameDecoder: Sendable {
    /// Which side of the connection decodes, and so which masking it requires.
    package enum Role: Sendable {
        /// Decodes frames sent by a server: they must not be masked.
        case client
        /// Decodes frames sent by a client: they must be masked.
        case server
    }

    private enum State: Sendable {
        /// Collecting header bytes; `headerCount` of them are in `headerStorage`.
        case header
        /// Inside a frame's payload.
        case payload(FrameHeader, remaining: Int, maskOffset: Int, started: Bool)
        /// A protocol error was found; nothing more is decoded.
        case failed(WebSocketProtocolError)
    }

    package let role: Role
    /// The largest payload a single frame may announce; larger ones fail with 1009.
    package let maxFrameSize: Int
    /// Reserved bits an extension negotiated (none by default).
    package let allowedReservedBits: UInt8

    private var state: State = .header
    /// A header split across chunks (up to 14 bytes) is collected here.
    private var headerStorage: (UInt64, UInt64) = (0, 0)
    private var headerCount = 0

    package init(role: Role, maxFrameSize: Int, allowedReservedBits: UInt8 = 0) {
        self.role = role
        self.maxFrameSize = maxFrameSize
        self.allowedReservedBits = allowedReservedBits
    }

    /// Returns the next piece of frame payload found in `input` from `cursor` on, advancing
    /// `cursor` past what it consumed, or nil when `input` is used up (feed more bytes).
    ///
    /// Masked payload is unmasked in place in `input`.
    /// - Throws: ``WebSocketProtocolError`` at the first invalid header field; the decoder
    ///   then stays failed.
    @inlinable
    package mutating func nextPart(in input: UnsafeMutableRawBufferPointer, cursor: inout Int) throws(WebSocketProtocolError) -> FramePart? {
        try _nextPart(in: input, cursor: &cursor)
    }

    @usableFromInline
    mutating func _nextPart(in input: UnsafeMutableRawBufferPointer, cursor: inout Int) throws(WebSocketProtocolError) -> FramePart? {
        switch state {
        case .failed(let error):
            throw error
        case .payload(let header, let remaining, let maskOffset, let started):
            return takePayload(header: header, remaining: remaining, maskOffset: maskOffset,
                               started: started, input: input, cursor: &cursor)
        case .header:
            guard let base = input.baseAddress else { return nil }
            let available = input.count - cursor
            let header: FrameHeader
            do throws(WebSocketProtocolError) {
                if headerCount == 0 && available >= 2 {
                    // Fast path: the header is read where it lies.
                    let size = try Self.headerSize(base.load(fromByteOffset: cursor, as: UInt8.self),
                                                   base.load(fromByteOffset: cursor + 1, as: UInt8.self), role: role,
                                                   allowedReservedBits: allowedReservedBits)
                    if available >= size {
                        header = try parseHeader(UnsafeRawPointer(base + cursor))
                        cursor += size
                    } else {
                        collectHeaderBytes(from: base, count: available, cursor: &cursor)
                        return nil
                    }
                } else {
                    guard let collected = try collectSplitHeader(from: base, end: input.count, cursor: &cursor) else {
                        return nil
                    }
                    header = collected
                }
            } catch {
                state = .failed(error)
                throw error
            }
            return takePayload(header: header, remaining: header.payloadLength, maskOffset: 0,
                               started: false, input: input, cursor: &cursor)
        }
    }

    private mutating func takePayload(header: FrameHeader, remaining: Int, maskOffset: Int, started: Bool,
                                      input: UnsafeMutableRawBufferPointer, cursor: inout Int) -> FramePart? {
        let count = min(remaining, input.count - cursor)
        // A zero-length frame is reported at once; a non-empty payload needs at least one byte.
        if count == 0 && remaining > 0 {
            state = .payload(header, remaining: remaining, maskOffset: maskOffset, started: started)
            return nil
        }
        let chunk = count == 0
            ? UnsafeMutableRawBufferPointer(start: nil, count: 0)
            : UnsafeMutableRawBufferPointer(rebasing: input[cursor ..< cursor + count])
        var nextMaskOffset = maskOffset
        if let key = header.maskingKey {
            nextMaskOffset = key.apply(to: chunk, offset: maskOffset)
        }
        cursor += count
        let left = remaining - count
        state = left == 0 ? .header : .payload(header, remaining: left, maskOffset: nextMaskOffset, started: true)
        return FramePart(header: header, payload: UnsafeRawBufferPointer(chunk), isFrameStart: !started, isFrameEnd: left == 0)
    }

    // MARK: Header

    /// Validates the first two header bytes and returns the full header size (2 to 14).
    @inline(__always)
    private static func headerSize(_ byte0: UInt8, _ byte1: UInt8, role: Role, allowedReservedBits: UInt8) throws(WebSocketProtocolError) -> Int {
        let reserved = (byte0 >> 4) & 0x7
        if reserved & ~allowedReservedBits != 0 { throw .reservedBitsSet(reserved) }
        guard let opcode = WebSocketOpcode(rawValue: byte0 & 0x0F) else { throw .unknownOpcode(byte0 & 0x0F) }
        // An extension's bits (permessage-deflate's RSV1) belong on a message's first frame only.
        if reserved != 0 && (opcode.isControl || opcode == .continuation) { throw .compressedFrameNotAllowed(opcode) }
        let masked = byte1 & 0x80 != 0
        switch role {
        case .client where masked: throw .unexpectedMask
        case .server where !masked: throw .missingMask
        default: break
        }
        let length7 = byte1 & 0x7F
        if opcode.isControl {
            if byte0 & 0x80 == 0 { throw .fragmentedControlFrame }
            if length7 > 125 { throw .controlFrameTooLong(UInt64(length7)) }
        }
        let lengthBytes = length7 == 126 ? 2 : (length7 == 127 ? 8 : 0)
        return 2 + lengthBytes + (masked ? 4 : 0)
    }

    /// Decodes a complete header (already checked by `headerSize`) at `pointer`.
    @inline(__always)
    private func parseHeader(_ pointer: UnsafeRawPointer) throws(WebSocketProtocolError) -> FrameHeader {
        let byte0 = pointer.load(as: UInt8.self)
        let byte1 = pointer.load(fromByteOffset: 1, as: UInt8.self)
        let length7 = byte1 & 0x7F
        var offset = 2
        var length: UInt64
        switch length7 {
        case 126:
            length = UInt64(UInt16(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
            offset = 4
        case 127:
            length = UInt64(bigEndian: pointer.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
            offset = 10
            if length & (1 << 63) != 0 { throw .invalidPayloadLength }
        default:
            length = UInt64(length7)
        }
        if length > UInt64(maxFrameSize) { throw .frameTooLarge(length, limit: maxFrameSize) }
        let key = byte1 & 0x80 != 0 ? WebSocketMaskingKey(wireBytes: pointer + offset) : nil
        return FrameHeader(fin: byte0 & 0x80 != 0, reservedBits: (byte0 >> 4) & 0x7,
                           opcode: WebSocketOpcode(rawValue: byte0 & 0x0F) ?? .binary,
                           maskingKey: key, payloadLength: Int(length))
    }

    /// Copies header bytes into `headerStorage` (at most up to 14 in total).
    private mutating func collectHeaderBytes(from base: UnsafeMutableRawPointer, count: Int, cursor: inout Int) {
        let take = min(count, 14 - headerCount)
        guard take > 0 else { return }
        withUnsafeMutableBytes(of: &headerStorage) { storage in
            storage.baseAddress!.advanced(by: headerCount).copyMemory(from: base + cursor, byteCount: take)
        }
        headerCount += take
        cursor += take
    }

    /// The slow path for a header split across chunks: collects it byte range by byte range,
    /// validating the first two bytes as soon as they are in.
    private mutating func collectSplitHeader(from base: UnsafeMutableRawPointer, end: Int, cursor: inout Int) throws(WebSocketProtocolError) -> FrameHeader? {
        if headerCount < 2 {
            collectHeaderBytes(from: base, count: min(2 - headerCount, end - cursor), cursor: &cursor)
            if headerCount < 2 { return nil }
        }
        let (byte0, byte1) = withUnsafeBytes(of: &headerStorage) { ($0[0], $0[1]) }
        let size = try Self.headerSize(byte0, byte1, role: role, allowedReservedBits: allowedReservedBits)
        if headerCount < size {
            collectHeaderBytes(from: base, count: min(size - headerCount, end - cursor), cursor: &cursor)
            if headerCount < size { return nil }
        }
        var storage = headerStorage
        let header = try withUnsafeBytes(of: &storage) { (bytes) throws(WebSocketProtocolError) -> FrameHeader in
            try parseHeader(bytes.baseAddress!)
        }
        headerCount = 0
        return header
    }
}

/// Collects a decoder's parts into whole frames: for tests and tools, not the hot path.
package struct FrameCollector: Sendable {
    package private(set) var decoder: FrameDecoder
    private var partial: WebSocketFrame?

    package init(_ decoder: FrameDecoder) {
        self.decoder = decoder
    }

    /// Feeds one chunk and returns the frames it completed. Bytes of an unfinished frame stay
    /// in the collector until the next chunk.
    package mutating func feed(_ bytes: [UInt8]) throws(WebSocketProtocolError) -> [WebSocketFrame] {
        var input = bytes
        var frames: [WebSocketFrame] = []
        var failure: WebSocketProtocolError?
        input.withUnsafeMutableBytes { buffer in
            var cursor = 0
            do throws(WebSocketProtocolError) {
                while let part = try decoder.nextPart(in: buffer, cursor: &cursor) {
                    if part.isFrameStart {
                        partial = WebSocketFrame(fin: part.header.fin, reservedBits: part.header.reservedBits,
                                                 opcode: part.header.opcode, maskingKey: part.header.maskingKey,
                                                 payload: [])
                        partial?.payload.reserveCapacity(part.header.payloadLength)
                    }
                    partial?.payload.append(contentsOf: part.payload)
                    if part.isFrameEnd, let frame = partial {
                        frames.append(frame)
                        partial = nil
                    }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return frames
    }
}
