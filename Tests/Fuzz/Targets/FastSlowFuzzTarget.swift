import FastSlow

/// Fuzzing of the FastSlow framer and codec.
///
/// Input: the first byte chooses a split point; the rest is a stream from the peer. Checks:
/// the framer gives the same messages whole and split (or the same failure); whatever decodes
/// re-encodes to bytes that decode to the same message, and a message's encoding is stable.
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

        for body in wholeBodies + [stream] {
            guard let message = try? WrapperMessage.decode(body) else { continue }
            let encoded = message.encoded
            guard let again = try? WrapperMessage.decode(encoded) else { preconditionFailure("an encoding does not decode") }
            precondition(again == message && again.encoded == encoded, "encode(decode(x)) does not round-trip")
        }
    }
}
