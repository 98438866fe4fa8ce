import FastSlow
import Foundation
import Testing

/// Our codec against bytes the reference protobuf implementation produced and verdicts it
/// gave (`ReferenceVectors/make_vectors.py`, run with Google's `protobuf` package; the
/// output is committed so this test needs no Python).
@Suite("FastSlow codec against the reference implementation")
struct ReferenceVectorTests {
    struct Vectors {
        var encodes: [String: [UInt8]] = [:]
        var encodeOrder: [String] = []
        var delimited: [UInt8] = []
        var accepted: [(input: [UInt8], reencoded: [UInt8])] = []
        var refused: [(input: [UInt8], reason: String)] = []
    }

    static func load() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ReferenceVectors/reference_vectors.txt")
        var vectors = Vectors()
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ").map(String.init)
            let bytes = { (text: String) in text == "-" ? [] : FastSlowCodecTests.hex(text) }
            switch fields[0] {
            case "encode":
                vectors.encodes[fields[1]] = bytes(fields[2])
                vectors.encodeOrder.append(fields[1])
            case "delimited": vectors.delimited = bytes(fields[1])
            case "decode-ok": vectors.accepted.append((bytes(fields[1]), bytes(fields[2])))
            case "decode-error": vectors.refused.append((bytes(fields[1]), fields[2]))
            default: Issue.record("unknown vector line \(line)")
            }
        }
        return vectors
    }

    /// The messages the script encoded, by the names it gave them.
    static let messages: [String: WrapperMessage] = [
        "request_fast": .requestForFastResponse,
        "request_slow_0": .requestForSlowResponse(.init(timeInSecondsToSleep: 0)),
        "request_slow_2": .requestForSlowResponse(.init(timeInSecondsToSleep: 2)),
        "request_slow_300": .requestForSlowResponse(.init(timeInSecondsToSleep: 300)),
        "request_slow_max": .requestForSlowResponse(.init(timeInSecondsToSleep: .max)),
        "slow_0": .slowResponse(.init(connectedClientCount: 0)),
        "slow_1": .slowResponse(.init(connectedClientCount: 1)),
        "slow_200": .slowResponse(.init(connectedClientCount: 200)),
        "slow_16384": .slowResponse(.init(connectedClientCount: 16384)),
        "slow_max": .slowResponse(.init(connectedClientCount: .max)),
        "fast_example": .fastResponse(.init(currentDateTime: "19851019T050107.333")),
        "fast_empty": .fastResponse(.init(currentDateTime: "")),
        "fast_unicode": .fastResponse(.init(currentDateTime: "\u{e9}\u{65e5}\u{672c}\u{1F600}")),
        "fast_127": .fastResponse(.init(currentDateTime: String(repeating: "x", count: 127))),
        "fast_128": .fastResponse(.init(currentDateTime: String(repeating: "y", count: 128))),
        "fast_300": .fastResponse(.init(currentDateTime: String(repeating: "z", count: 300))),
    ]

    /// Inputs the reference accepts and we refuse, on purpose: the issue makes invalid UTF-8
    /// and groups typed errors (proto2 in the reference does not check UTF-8, and skips an
    /// unknown group). Each with the error we give.
    static let deliberateDifferences: [String: ProtoDecodeError] = [
        "0a030a01ff": .invalidUTF8,
        "0a050a03eda080": .invalidUTF8,
        "0a050a03c0af41": .invalidUTF8,
        "220208024b4c": .unsupportedWireType(3),
    ]

    @Test("every message encodes to the reference's bytes and decodes back")
    func encodings() throws {
        let vectors = try Self.load()
        #expect(Set(vectors.encodes.keys) == Set(Self.messages.keys), "the script and this test name the same messages")
        for (name, bytes) in vectors.encodes {
            let message = try #require(Self.messages[name])
            #expect(message.encoded == bytes, "\(name)")
            #expect(try WrapperMessage.decode(bytes) == message, "\(name)")
        }
    }

    @Test("the reference's writeDelimitedTo stream, split at every byte, frames and decodes in order")
    func delimitedStream() throws {
        let vectors = try Self.load()
        let expected = try vectors.encodeOrder.map { try #require(Self.messages[$0]) }
        #expect(expected.flatMap { DelimitedFramer.frame($0.encoded) } == vectors.delimited, "we write the same stream")
        for cut in 0...vectors.delimited.count {
            var framer = DelimitedFramer()
            var bodies: [[UInt8]] = []
            try framer.feed(vectors.delimited[..<cut], into: &bodies)
            try framer.feed(vectors.delimited[cut...], into: &bodies)
            #expect(try bodies.map { try WrapperMessage.decode($0) } == expected, "cut at \(cut)")
        }
    }

    @Test("what the reference accepts we accept as the same message; what it refuses we refuse")
    func verdicts() throws {
        let vectors = try Self.load()
        #expect(vectors.accepted.count >= 10 && vectors.refused.count >= 10)
        var differencesSeen = 0
        for (input, reencoded) in vectors.accepted {
            let key = input.map { String(format: "%02x", $0) }.joined()
            if let error = Self.deliberateDifferences[key] {
                differencesSeen += 1
                #expect(throws: error) { try WrapperMessage.decode(input) }
                continue
            }
            let message = try WrapperMessage.decode(input)
            #expect(try WrapperMessage.decode(reencoded) == message, "\(key)")
            // The reference keeps unknown fields when it re-encodes; we drop them. Without any,
            // the bytes are the same.
            if message.encoded.count == reencoded.count {
                #expect(message.encoded == reencoded, "\(key)")
            } else {
                #expect(message.encoded.count < reencoded.count, "\(key): ours \(message.encoded), reference \(reencoded)")
            }
        }
        #expect(differencesSeen == Self.deliberateDifferences.count, "each deliberate difference is still in the vectors")
        for (input, reason) in vectors.refused {
            #expect(throws: ProtoDecodeError.self, "\(input) (reference: \(reason))") { try WrapperMessage.decode(input) }
        }
    }
}
