import Testing
import TestSupport
@testable import WebSocketCore

@Suite("Frame decoding and encoding: RFC 6455 section 5.7 examples")
struct RFCExampleTests {
    static let examples: [(name: String, bytes: [UInt8], frames: [WebSocketFrame], role: FrameDecoder.Role)] = [
        ("single-frame unmasked text", hex("81 05 48 65 6c 6c 6f"),
         [WebSocketFrame(opcode: .text, payload: Array("Hello".utf8))], .client),
        ("single-frame masked text", hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
         [WebSocketFrame(opcode: .text, maskingKey: rfcKey, payload: Array("Hello".utf8))], .server),
        ("fragmented unmasked text", hex("01 03 48 65 6c 80 02 6c 6f"),
         [WebSocketFrame(fin: false, opcode: .text, payload: Array("Hel".utf8)),
          WebSocketFrame(opcode: .continuation, payload: Array("lo".utf8))], .client),
        ("unmasked ping", hex("89 05 48 65 6c 6c 6f"),
         [WebSocketFrame(opcode: .ping, payload: Array("Hello".utf8))], .client),
        ("masked pong", hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
         [WebSocketFrame(opcode: .pong, maskingKey: rfcKey, payload: Array("Hello".utf8))], .server),
        ("256 bytes binary", hex("82 7e 01 00") + (0..<256).map { UInt8($0 & 0xFF) },
         [WebSocketFrame(opcode: .binary, payload: (0..<256).map { UInt8($0 & 0xFF) })], .client),
        ("64 KiB binary", hex("82 7f 00 00 00 00 00 01 00 00") + (0..<65536).map { UInt8(($0 * 7) & 0xFF) },
         [WebSocketFrame(opcode: .binary, payload: (0..<65536).map { UInt8(($0 * 7) & 0xFF) })], .client),
    ]

    @Test("decodes each example", arguments: 0..<examples.count)
    func decodesExample(index: Int) throws {
        let example = Self.examples[index]
        let frames = try decode([example.bytes], role: example.role).get()
        #expect(frames == example.frames, "\(example.name)")
    }

    @Test("encodes each example to the exact bytes", arguments: 0..<examples.count)
    func encodesExample(index: Int) {
        let example = Self.examples[index]
        let encoded = example.frames.flatMap(FrameEncoder.encode)
        #expect(encoded == example.bytes, "\(example.name)")
    }

    @Test("decodes each example split at every byte boundary, and at every pair of boundaries")
    func everySplit() async throws {
        for example in Self.examples where example.bytes.count < 300 {
            for first in 0...example.bytes.count {
                await Task.yield()  // CPU-bound: leave room for the loopback tests beside it
                for second in first...example.bytes.count {
                    let frames = try decode(split(example.bytes, at: [first, second]), role: example.role).get()
                    #expect(frames == example.frames, "\(example.name) split at \(first), \(second)")
                }
            }
        }
    }

    @Test("decodes every byte fed one at a time, including the 64 KiB frame")
    func byteByByte() throws {
        for example in Self.examples {
            let frames = try decode(example.bytes.map { [$0] }, role: example.role).get()
            #expect(frames == example.frames, "\(example.name)")
        }
    }

    /// A stream of masked frames of mixed sizes and opcodes, and the frames it holds.
    static func mixedStream(frames count: Int, largeFrames: Bool, using generator: inout SeededGenerator) -> ([UInt8], [WebSocketFrame]) {
        var stream: [UInt8] = []
        var expected: [WebSocketFrame] = []
        let sizes = largeFrames ? [0, 1, 125, 126, 127, 65535, 65536, -1] : [0, 1, 125, 126, 127, -1]
        for index in 0..<count {
            var length = sizes[index % sizes.count]
            if length < 0 { length = Int.random(in: 0...3000, using: &generator) }
            if largeFrames && length > 127 && index >= sizes.count { length = Int.random(in: 128...3000, using: &generator) }
            let opcode: WebSocketOpcode = index % 5 == 0 ? .ping : .binary
            let payload = (0..<(opcode == .ping ? min(length, 125) : length)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let frame = WebSocketFrame(opcode: opcode, maskingKey: WebSocketMaskingKey(1, 2, 3, UInt8(index & 0xFF)), payload: payload)
            expected.append(frame)
            stream += FrameEncoder.encode(frame)
        }
        return (stream, expected)
    }

    @Test("decodes a long stream of mixed frames in random chunk sizes")
    func randomChunking() throws {
        var generator = SeededGenerator(seed: 42)
        // Every size class including both 64 KiB boundaries, in chunks of up to 7, 100 and 16 KiB bytes.
        let (stream, expected) = Self.mixedStream(frames: 300, largeFrames: true, using: &generator)
        for maxChunk in [7, 100, 16384] {
            let chunks = randomChunks(stream, maxChunk: maxChunk, using: &generator)
            #expect(try decode(chunks, role: .server).get() == expected, "max chunk \(maxChunk)")
        }
        // One byte at a time over a stream of small frames (the 64 KiB frames get the same
        // treatment in `byteByByte`).
        let (small, smallExpected) = Self.mixedStream(frames: 60, largeFrames: false, using: &generator)
        #expect(try decode(small.map { [$0] }, role: .server).get() == smallExpected)
    }

    @Test("the length boundaries 125/126/65535/65536 encode with the shortest length form")
    func lengthForms() {
        for (length, headerSize) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (1 << 20, 10)] {
            let bytes = frame(.binary, [UInt8](repeating: 0x61, count: length))
            #expect(bytes.count == headerSize + length, "length \(length)")
            let masked = frame(.binary, [UInt8](repeating: 0x61, count: length), key: rfcKey)
            #expect(masked.count == headerSize + 4 + length, "masked length \(length)")
        }
    }
}

@Suite("Frame header validation")
struct FrameValidationTests {
    @Test("reserved bits without an extension are a protocol error", arguments: [1, 2, 4, 7] as [UInt8])
    func reservedBits(bits: UInt8) {
        #expect(decode([frame(.text, Array("x".utf8), rsv: bits)]) == .failure(.reservedBitsSet(bits)))
    }

    @Test("unknown opcodes are a protocol error", arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func unknownOpcode(opcode: UInt8) {
        #expect(decode([[0x80 | opcode, 0x00]]) == .failure(.unknownOpcode(opcode)))
    }

    @Test("a client rejects masked frames; a server rejects unmasked ones")
    func masking() {
        #expect(decode([frame(.text, "hi", key: rfcKey)], role: .client) == .failure(.unexpectedMask))
        #expect(decode([frame(.text, "hi")], role: .server) == .failure(.missingMask))
    }

    @Test("control frames must not be fragmented nor longer than 125 bytes")
    func controlFrames() {
        #expect(decode([frame(.ping, [1, 2], fin: false)]) == .failure(.fragmentedControlFrame))
        #expect(decode([frame(.ping, [UInt8](repeating: 0, count: 126))]) == .failure(.controlFrameTooLong(126)))
        #expect(decode([frame(.close, [UInt8](repeating: 0, count: 126))]) == .failure(.controlFrameTooLong(126)))
        #expect(decode([frame(.pong, [UInt8](repeating: 0, count: 125))]).map(\.count) == .success(1))
    }

    @Test("a 64-bit length with its top bit set is rejected before any payload arrives")
    func hugeLength() {
        #expect(decode([hex("82 7f 80 00 00 00 00 00 00 00")]) == .failure(.invalidPayloadLength))
        // 2^63 - 1 is a valid encoding but exceeds any limit: 1009 at the header, nothing buffered.
        #expect(decode([hex("82 7f 7f ff ff ff ff ff ff ff")]) == .failure(.frameTooLarge(UInt64(Int64.max), limit: 1 << 24)))
    }

    @Test("a frame over the size limit fails at its header")
    func frameLimit() {
        #expect(decode([Array(frame(.binary, [UInt8](repeating: 1, count: 1001)).prefix(4))], maxFrameSize: 1000)
                == .failure(.frameTooLarge(1001, limit: 1000)))
        #expect(decode([frame(.binary, [UInt8](repeating: 1, count: 1000))], maxFrameSize: 1000).map(\.count) == .success(1))
    }

    @Test("errors are found as soon as the first two bytes are in, even when split")
    func failFastOnSplitHeader() {
        #expect(decode([[0x83], [0x00]]) == .failure(.unknownOpcode(3)))
        #expect(decode([[0x82], [0xFF]]) == .failure(.unexpectedMask))
    }

    @Test("a failed decoder stays failed")
    func staysFailed() {
        var collector = FrameCollector(FrameDecoder(role: .client, maxFrameSize: 100))
        #expect(throws: WebSocketProtocolError.unknownOpcode(3)) { try collector.feed([0x83, 0x00]) }
        #expect(throws: WebSocketProtocolError.unknownOpcode(3)) { try collector.feed(frame(.text, "ok")) }
    }
}

@Suite("Masking")
struct MaskingTests {
    @Test("word-wise masking equals the byte loop at every offset and length")
    func wordMaskingMatchesBytewise() {
        var generator = SeededGenerator(seed: 7)
        let key = WebSocketMaskingKey(0x12, 0x34, 0xAB, 0xCD)
        for length in 0...67 {
            let original = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for offset in 0..<8 {
                let expected = original.enumerated().map { $0.element ^ key[offset + $0.offset] }
                var masked = original
                let next = masked.withUnsafeMutableBytes { key.apply(to: $0, offset: offset) }
                #expect(masked == expected, "length \(length) offset \(offset)")
                #expect(next == (offset + length) % 4)
            }
        }
    }

    @Test("masking in chunks with the returned offset equals masking at once")
    func chunkedMasking() {
        let key = WebSocketMaskingKey(9, 8, 7, 6)
        let original = (0..<1000).map { UInt8($0 % 251) }
        var whole = original
        whole.withUnsafeMutableBytes { _ = key.apply(to: $0) }
        var chunked = original
        chunked.withUnsafeMutableBytes { buffer in
            var offset = 0
            var start = 0
            for size in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 392] {
                offset = key.apply(to: UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + size)]), offset: offset)
                start += size
            }
        }
        #expect(chunked == whole)
    }

    @Test("secure masking keys differ from frame to frame, across pool refills")
    func freshKeys() {
        var keys = SecureRandomMaskingKeys()
        let drawn = (0..<3000).map { _ in keys.nextKey() }
        #expect(Set(drawn).count > 2990)
        // Every byte value turns up in 64 KiB of generator output (a stuck or zero source would not).
        var bytes = [UInt8](repeating: 0, count: 65536)
        bytes.withUnsafeMutableBytes { fillWithSecureRandomBytes($0) }
        #expect(Set(bytes).count == 256)
    }
}
