import SensorWire
import UTF8Validation

/// Fuzzing of the strict JSON parser and the envelope decoder: whatever parses must be UTF-8,
/// must survive serialize -> parse unchanged, and envelopes must round-trip through the
/// protocol codec.
enum JSONFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        let parsed = try? JSONParser.parse(input)
        let text: String? = UTF8Validator.isValid(input) ? String(decoding: input, as: UTF8.self) : nil
        // The one-pass server message decoder must agree with the general path on everything.
        let fast = JSONParser.parseServerMessage(input)
        let general = text.flatMap { SensorProtocol.decode($0) }.flatMap(ServerMessage.init)
        precondition(fast == general, "one-pass decoding differs: \(String(describing: fast)) vs \(String(describing: general))")
        if let fast {
            precondition(fast.encodedText == SensorProtocol.encode(fast.envelope), "encodedText differs from the envelope encoding")
        }
        guard let parsed else {
            if let text { precondition(SensorProtocol.decode(text) == nil, "decoded an envelope from text the parser refuses") }
            return
        }
        guard let text else { preconditionFailure("parsed JSON from bytes that are not UTF-8") }

        let serialized = JSONSerializer.serialize(parsed)
        guard let reparsed = try? JSONParser.parse(serialized) else {
            preconditionFailure("our own serialization does not parse: \(serialized)")
        }
        precondition(reparsed == parsed, "serialize -> parse changed the value: \(parsed) vs \(reparsed)")
        precondition(JSONSerializer.serialize(reparsed) == serialized, "serialization is not stable")

        guard let envelope = SensorProtocol.decode(text) else { return }
        let reencoded = SensorProtocol.encode(envelope)
        precondition(SensorProtocol.decode(reencoded) == envelope, "an envelope did not round-trip: \(reencoded)")
        if let message = ServerMessage(envelope) {
            precondition(ServerMessage(message.envelope) == message, "a server message did not round-trip")
        }
    }
}
