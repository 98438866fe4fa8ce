import CZlib

/// One direction's raw-deflate compressor for permessage-deflate (RFC 7692 section 7.2.1),
/// over zlib.
///
/// Each message is compressed and flushed with `Z_SYNC_FLUSH`; the empty stored block that
/// flush ends with (`00 00 FF FF`) is removed, as the RFC requires. The zlib stream and the
/// output buffer are allocated on the first message, so a connection that never sends a
/// compressed message costs nothing.
///
/// Owned by one ``WebSocketSession``, which its connection uses under the connection's lock:
/// one thread at a time. Overlapping use is caught, not assumed away: two users inside at once
/// trap (``ExclusiveUse``). Not caught: two copies of a session used one after the other would
/// share this zlib stream; the connection core never copies a session out of its state.
package final class DeflateCompressor: @unchecked Sendable {
    private let windowBits: Int32
    private let memoryLevel: Int32
    private let level: Int32
    /// Messages shorter than this go out uncompressed.
    package let minimumSize: Int
    /// No context takeover: the window is reset after every message.
    package let resetsAfterEachMessage: Bool
    private var stream: UnsafeMutablePointer<z_stream>?
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private let exclusive = ExclusiveUse()

    /// A compressor with a window of 2^`windowBits` bytes (9 to 15), zlib memory level
    /// `memoryLevel` and compression level `level` (1 to 9).
    package init(windowBits: Int, memoryLevel: Int, level: Int = 6, minimumSize: Int = 0, resetsAfterEachMessage: Bool = false) {
        self.level = Int32(min(max(level, 1), 9))
        self.minimumSize = minimumSize
        self.resetsAfterEachMessage = resetsAfterEachMessage
        self.windowBits = Int32(min(max(windowBits, 9), 15))
        self.memoryLevel = Int32(min(max(memoryLevel, 1), 9))
    }

    /// The compressor one side of a negotiated connection uses.
    package convenience init(settings: PerMessageDeflate) {
        self.init(windowBits: settings.compressWindowBits, memoryLevel: settings.memoryLevel, level: settings.level,
                  minimumSize: settings.minimumSize, resetsAfterEachMessage: settings.compressResets)
    }

    deinit {
        if let stream {
            deflateEnd(stream)
            stream.deallocate()
        }
        buffer.deallocate()
    }

    /// Compresses one whole message and lends the compressed bytes (without the trailing
    /// `00 00 FF FF`) to `body`. With `reset`, the next message starts without memory of this one.
    package func compress<Result>(_ message: UnsafeRawBufferPointer, reset: Bool,
                                  _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        exclusive.run("DeflateCompressor used by two threads at once") { compressExclusively(message, reset: reset, body) }
    }

    private func compressExclusively<Result>(_ message: UnsafeRawBufferPointer, reset: Bool,
                                             _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let stream = openStream()
        ensureCapacity(Int(deflateBound(stream, uLong(message.count))) + 16)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: message.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(message.count)
        var produced = 0
        while true {
            if produced == buffer.count { ensureCapacity(buffer.count * 2) }
            // A valid buffer is never empty here: ensureCapacity allocated at least 16 bytes.
            let base = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.next_out = base + produced
            stream.pointee.avail_out = uInt(buffer.count - produced)
            let status = deflate(stream, Z_SYNC_FLUSH)
            produced = buffer.count - Int(stream.pointee.avail_out)
            // Z_BUF_ERROR only means no progress was possible: everything is flushed.
            precondition(status == Z_OK || status == Z_BUF_ERROR, "Internal inconsistency: deflate returned \(status)")
            if stream.pointee.avail_out != 0 && stream.pointee.avail_in == 0 { break }
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        if reset { deflateReset(stream) }
        guard produced >= 4 else {
            // No input since the last flush: zlib writes nothing. The message is the empty
            // stored block's first byte, which the receiver's appended 00 00 FF FF completes
            // (RFC 7692 section 7.2.3.6).
            precondition(produced == 0, "Internal inconsistency: a sync flush of \(produced) bytes")
            return withUnsafeBytes(of: UInt8(0)) { body($0) }
        }
        // A sync flush ends with the empty stored block 00 00 FF FF, which is not sent.
        return body(UnsafeRawBufferPointer(rebasing: buffer[..<(produced - 4)]))
    }

    private func openStream() -> UnsafeMutablePointer<z_stream> {
        if let stream { return stream }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateInit2_(stream, level, Z_DEFLATED, -windowBits, memoryLevel,
                                   Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        // Only out of memory or a zlib built without raw deflate fail here.
        precondition(status == Z_OK, "deflateInit2 failed with \(status)")
        self.stream = stream
        return stream
    }

    private func ensureCapacity(_ count: Int) {
        guard buffer.count < count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 256), alignment: 8)
        if let base = buffer.baseAddress, buffer.count > 0 {
            grown.baseAddress!.copyMemory(from: base, byteCount: buffer.count)
        }
        buffer.deallocate()
        buffer = grown
    }
}
