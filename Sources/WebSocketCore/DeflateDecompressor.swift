import CZlib

/// One direction's raw-inflate decompressor for permessage-deflate (RFC 7692 section 7.2.2),
/// over zlib, with the message size limit applied to the inflated bytes.
///
/// A message's compressed payload is fed in pieces as frames arrive; the inflated bytes
/// collect in a buffer that never grows past the limit plus one byte: a message that inflates
/// beyond the limit fails with ``WebSocketProtocolError/messageTooLarge(limit:)`` as soon as
/// it crosses it (a compression bomb costs at most the limit in memory). Allocated on the
/// first compressed message. Owned by one ``MessageAssembler``; one thread at a time, enforced
/// as for ``DeflateCompressor`` (two threads inside at once trap).
package final class DeflateDecompressor: @unchecked Sendable {
    private let windowBits: Int32
    private var stream: UnsafeMutablePointer<z_stream>?
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private let exclusive = ExclusiveUse()
    /// Inflated bytes of the current message.
    package private(set) var count = 0
    /// The peer resets its window after every message (no context takeover), so this side does too.
    package let resetsAfterEachMessage: Bool

    /// A decompressor for streams with a window of up to 2^`windowBits` bytes (8 to 15).
    package init(windowBits: Int, resetsAfterEachMessage: Bool = false) {
        self.windowBits = Int32(min(max(windowBits, 8), 15))
        self.resetsAfterEachMessage = resetsAfterEachMessage
    }

    deinit {
        if let stream {
            inflateEnd(stream)
            stream.deallocate()
        }
        buffer.deallocate()
    }

    /// The bytes the output buffer holds now: never more than the message limit plus one.
    package var bufferCapacity: Int { buffer.count }

    /// The inflated bytes of the current message so far; valid until the next call.
    package var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[..<count])
    }

    /// Starts a new message: forgets the last one's bytes (not the window, unless reset) and
    /// gives back a buffer a large message left behind.
    package func startMessage() {
        exclusive.run("DeflateDecompressor used by two threads at once") { startMessageExclusively() }
    }

    private func startMessageExclusively() {
        count = 0
        if buffer.count > 1 << 16 {
            buffer.deallocate()
            buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        }
    }

    /// Inflates one piece of the current message's compressed payload.
    /// - Throws: ``WebSocketProtocolError/messageTooLarge(limit:)`` when the message inflates
    ///   past `limit` bytes, ``WebSocketProtocolError/invalidCompressedData`` when zlib
    ///   rejects the data.
    package func decompress(_ piece: UnsafeRawBufferPointer, limit: Int) throws(WebSocketProtocolError) {
        guard piece.count > 0 else { return }
        try exclusive.run("DeflateDecompressor used by two threads at once") { () throws(WebSocketProtocolError) in try inflate(piece, limit: limit) }
    }

    /// Ends the current message: inflates the `00 00 FF FF` the sender removed. With
    /// `reset`, the next message starts without the window of this one.
    package func finishMessage(limit: Int, reset: Bool) throws(WebSocketProtocolError) {
        try exclusive.run("DeflateDecompressor used by two threads at once") { () throws(WebSocketProtocolError) in
            let tail: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0xFF, 0xFF)
            try withUnsafeBytes(of: tail) { (bytes) throws(WebSocketProtocolError) in try inflate(bytes, limit: limit) }
            if reset, let stream { inflateReset(stream) }
        }
    }

    private func inflate(_ input: UnsafeRawBufferPointer, limit: Int) throws(WebSocketProtocolError) {
        let stream = try openStream()
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        while true {
            if count == buffer.count {
                // One byte past the limit is room enough to tell that the limit was crossed.
                guard count <= limit else { throw .messageTooLarge(limit: limit) }
                grow(to: min(max(buffer.count * 2, input.count * 4, 1024), limit + 1))
            }
            let base = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.next_out = base + count
            stream.pointee.avail_out = uInt(buffer.count - count)
            let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
            count = buffer.count - Int(stream.pointee.avail_out)
            if count > limit { throw .messageTooLarge(limit: limit) }
            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Output room left means zlib used all the input it could: nothing is pending.
                if stream.pointee.avail_out != 0 { return }
            case Z_STREAM_END:
                // A final block (BFINAL) ends the deflate stream; RFC 7692 allows it, and the
                // next message starts a new stream.
                inflateReset(stream)
                if stream.pointee.avail_in == 0 { return }
            default:
                throw .invalidCompressedData
            }
        }
    }

    private func openStream() throws(WebSocketProtocolError) -> UnsafeMutablePointer<z_stream> {
        if let stream { return stream }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = inflateInit2_(stream, -windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw .invalidCompressedData
        }
        self.stream = stream
        return stream
    }

    private func grow(to size: Int) {
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        if let base = buffer.baseAddress, count > 0 {
            grown.baseAddress!.copyMemory(from: base, byteCount: count)
        }
        buffer.deallocate()
        buffer = grown
    }
}
