import ConnectionCore
import FastSlow

/// Fuzzing of the FastSlow framer and codec.
///
/// Input: the first byte chooses a split point; the rest is a stream from the peer. Checks:
/// the framer gives the same messages whole and split (or the same failure); whatever decodes
/// re-encodes to bytes that decode to the same message, and a message's encoding is stable;
/// the connection codec (framer and decoder together, as the server and client run them)
/// reports exactly the messages that decode, up to the first failure, wherever the split.
enum FastSlowFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let (_, stream, cut) = splitPoint(input) else { return }

        var whole = DelimitedFramer(maxMessageSize: 4096)
        var wholeBodies: [[UInt8]] = []
        let wholeFailure = Result { () throws(DelimitedFramer.Failure) in try whole.feed(stream, into: &wholeBodies) }
        var split = DelimitedFramer(maxMessageSize: 4096)
        var splitBodies: [[UInt8]] = []
        let splitFailure = Result { () throws(DelimitedFramer.Failure) in
            try split.feed(stream[..<cut], into: &splitBodies)
            try split.feed(stream[cut...], into: &splitBodies)
        }
        precondition(wholeBodies == splitBodies, "the framer depends on where the input was split")
        precondition((try? wholeFailure.get()) == nil ? (try? splitFailure.get()) == nil : true, "failure differs")

        // The codec: the decodable messages before the first bad one, then a failure and the end.
        var expected: [WrapperMessage] = []
        var expectFailure = (try? wholeFailure.get()) == nil
        for body in wholeBodies {
            guard let message = try? WrapperMessage.decode(body) else {
                expectFailure = true
                break
            }
            expected.append(message)
        }
        var codec = FastSlowCodec(maxMessageSize: 4096)
        var received: [WrapperMessage] = []
        var failed = false
        for part in [stream[..<cut], stream[cut...]] {
            var bytes = Array(part)
            var events: [CodecEvent] = []
            bytes.withUnsafeMutableBytes { codec.receive($0, into: &events) }
            for event in events {
                switch event {
                case .message(let messages as [WrapperMessage], _): received += messages
                case .failed(is FastSlowStreamFailure): failed = true
                default: break
                }
            }
        }
        precondition(received == expected, "the codec's messages differ from the framer's and decoder's")
        precondition(failed == expectFailure, "the codec's failure differs")

        for body in wholeBodies + [stream] {
            guard let message = try? WrapperMessage.decode(body) else { continue }
            let encoded = message.encoded
            guard let again = try? WrapperMessage.decode(encoded) else { preconditionFailure("an encoding does not decode") }
            precondition(again == message && again.encoded == encoded, "encode(decode(x)) does not round-trip")
        }
    }
}
