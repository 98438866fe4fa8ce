import FastSlow
import Testing

/// The FastSlow codec and framer without sockets. The vectors are the protobuf wire format
/// worked out by hand from the schema (tag = field << 3 | wire type; lengths and uint32 as
/// varints), which is what the reference implementation writes for these messages.
@Suite("FastSlow codec and framer")
struct FastSlowCodecTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var digits = text.filter { !$0.isWhitespace }[...]
        while digits.count >= 2 {
            bytes.append(UInt8(digits.prefix(2), radix: 16)!)
            digits = digits.dropFirst(2)
        }
        return bytes
    }

    static let vectors: [(WrapperMessage, String)] = [
        (.requestForFastResponse, "1a 00"),
        (.requestForSlowResponse(.init(timeInSecondsToSleep: 2)), "22 02 08 02"),
        (.requestForSlowResponse(.init(timeInSecondsToSleep: 300)), "22 03 08 ac 02"),
        (.requestForSlowResponse(.init(timeInSecondsToSleep: .max)), "22 06 08 ff ff ff ff 0f"),
        (.slowResponse(.init(connectedClientCount: 0)), "12 02 08 00"),
        (.slowResponse(.init(connectedClientCount: 200)), "12 03 08 c8 01"),
        (.fastResponse(.init(currentDateTime: "19851019T050107.333")),
         "0a 15 0a 13 31 39 38 35 31 30 31 39 54 30 35 30 31 30 37 2e 33 33 33"),
    ]

    @Test("every message encodes to its vector and decodes back")
    func vectors() throws {
        for (message, bytes) in Self.vectors {
            #expect(message.encoded == Self.hex(bytes), "\(message)")
            #expect(try WrapperMessage.decode(Self.hex(bytes)) == message)
        }
        let text = WrapperMessage.fastResponse(.init(currentDateTime: "é日本"))
        #expect(try WrapperMessage.decode(text.encoded) == text, "UTF-8 round trip")
    }

    @Test("the reference's leniencies: unknown fields skipped, a field given twice merged (last value wins)")
    func lenient() throws {
        // Unknown wrapper field 9 of each wire type before the request.
        let unknown = Self.hex("48 05  51 0102030405060708  5a 02 aabb  65 01020304  22 02 08 07")
        #expect(try WrapperMessage.decode(unknown) == .requestForSlowResponse(.init(timeInSecondsToSleep: 7)))
        // Field 4 twice: merged, the last sleep wins.
        #expect(try WrapperMessage.decode(Self.hex("22 02 08 01  22 02 08 09")) == .requestForSlowResponse(.init(timeInSecondsToSleep: 9)))
        // Merged across occurrences: the required field may come in the first one only.
        #expect(try WrapperMessage.decode(Self.hex("22 02 08 03  22 00")) == .requestForSlowResponse(.init(timeInSecondsToSleep: 3)))
        // A uint32 from a longer varint keeps its low 32 bits.
        #expect(try WrapperMessage.decode(Self.hex("12 07 08 ff ff ff ff ff 01")) == .slowResponse(.init(connectedClientCount: .max)))
    }

    @Test("decode errors of every kind are typed", arguments: [
        ("", ProtoDecodeError.noMessageSet),
        ("48 05", .noMessageSet),
        ("1a 00  22 02 08 01", .severalMessagesSet),
        ("22 00", .missingRequiredField("RequestForSlowResponse.time_in_seconds_to_sleep")),
        ("12 00", .missingRequiredField("SlowResponse.connected_client_count")),
        ("0a 00", .missingRequiredField("FastResponse.current_date_time")),
        ("0a 03 0a 01 ff", .invalidUTF8),
        ("22 05 08 02", .truncated),
        ("22", .truncated),
        ("22 02 08", .truncated),
        ("22 02 08 80", .truncated),
        ("51 01 02", .truncated),
        ("00", .invalidFieldNumber(0)),
        ("4b", .unsupportedWireType(3)),
        ("4c", .unsupportedWireType(4)),
        ("4e", .unsupportedWireType(6)),
        ("4f", .unsupportedWireType(7)),
        // A known field with another wire type is unknown (the reference's rule): skipped.
        ("20 01", .noMessageSet),
        ("22 02 0a 00", .missingRequiredField("RequestForSlowResponse.time_in_seconds_to_sleep")),
        ("48 ff ff ff ff ff ff ff ff ff ff 01", .malformedVarint),
    ])
    func decodeErrors(bytes: String, error: ProtoDecodeError) {
        #expect(throws: error) { try WrapperMessage.decode(Self.hex(bytes)) }
    }

    @Test("the framer splits a stream at every byte boundary, the size prefix included")
    func framerSplits() throws {
        let messages: [WrapperMessage] = Self.vectors.map(\.0) + [.fastResponse(.init(currentDateTime: String(repeating: "x", count: 300)))]
        let stream = messages.flatMap { DelimitedFramer.frame($0.encoded) }
        for cut in 0...stream.count {
            var framer = DelimitedFramer()
            var bodies: [[UInt8]] = []
            try framer.feed(stream[..<cut], into: &bodies)
            try framer.feed(stream[cut...], into: &bodies)
            #expect(try bodies.map { try WrapperMessage.decode($0) } == messages, "cut at \(cut)")
        }
        var framer = DelimitedFramer()
        var bodies: [[UInt8]] = []
        for byte in stream { try framer.feed(CollectionOfOne(byte), into: &bodies) }
        #expect(bodies.count == messages.count, "one byte at a time")
    }

    @Test("a size prefix over 5 bytes or above the limit is a failure")
    func framerLimits() {
        var framer = DelimitedFramer()
        var bodies: [[UInt8]] = []
        #expect(throws: DelimitedFramer.Failure.prefixTooLong) { try framer.feed(Self.hex("80 80 80 80 80 01"), into: &bodies) }
        var small = DelimitedFramer(maxMessageSize: 100)
        #expect(throws: DelimitedFramer.Failure.messageTooLarge(101)) { try small.feed([101], into: &bodies) }
        var exact = DelimitedFramer(maxMessageSize: 100)
        #expect(throws: Never.self) { try exact.feed([100] + [UInt8](repeating: 0, count: 100), into: &bodies) }
        #expect(bodies.count == 1)
    }
}
