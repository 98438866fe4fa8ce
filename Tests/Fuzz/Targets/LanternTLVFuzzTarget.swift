import Lantern

/// Fuzzing of the lantern's TLV decoder.
///
/// Input: the first byte chooses a split point; the rest is a stream from the control server.
/// Checks: the decoder gives the same records whole, split in two, and byte by byte; the
/// records account for the stream (3 header bytes plus the value each, the rest an unfinished
/// record); every decoded built-in command encodes back to its record's bytes; a registered
/// command decodes only with its registration.
enum LanternTLVFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let (_, stream, cut) = splitPoint(input) else { return }
        var registry = LanternCommandRegistry.standard
        registry.register(type: 0x30, name: "BLINK") { value in value.count == 2 ? UInt16(value[0]) << 8 | UInt16(value[1]) : nil }

        var whole = LanternDecoder(registry: registry)
        var wholeOutputs: [LanternDecoder.Output] = []
        whole.feed(stream, into: &wholeOutputs)
        var split = LanternDecoder(registry: registry)
        var splitOutputs: [LanternDecoder.Output] = []
        split.feed(stream[..<cut], into: &splitOutputs)
        split.feed(stream[cut...], into: &splitOutputs)
        precondition(wholeOutputs == splitOutputs, "the decoder depends on where the input was split")
        var bytewise = LanternDecoder(registry: registry)
        var bytewiseOutputs: [LanternDecoder.Output] = []
        for byte in stream { bytewise.feed(CollectionOfOne(byte), into: &bytewiseOutputs) }
        precondition(wholeOutputs == bytewiseOutputs, "byte by byte differs")

        // Walk the records again by hand: each output matches its record's header and bytes.
        var offset = 0
        for output in wholeOutputs {
            precondition(stream.count - offset >= 3, "a record without its header")
            let type = stream[offset]
            let length = Int(stream[offset + 1]) << 8 | Int(stream[offset + 2])
            let value = Array(stream[(offset + 3)..<(offset + 3 + length)])
            switch output {
            case .command(let command):
                if let encoded = command.encoded { precondition(encoded == [type, stream[offset + 1], stream[offset + 2]] + value, "re-encoding differs") }
                if case .registered(_, let registeredType, _) = command { precondition(registeredType == 0x30 && type == 0x30) }
            case .unknown(let unknownType, let unknownLength):
                precondition(unknownType == type && unknownLength == length && registry.entry(for: type) == nil)
            case .malformed(let malformedType, let malformedLength):
                precondition(malformedType == type && malformedLength == length && registry.entry(for: type) != nil)
            }
            offset += 3 + length
        }
        // What is left is one unfinished record.
        let rest = stream.count - offset
        if rest >= 3 {
            let length = Int(stream[offset + 1]) << 8 | Int(stream[offset + 2])
            precondition(rest < 3 + length, "a complete record was not reported")
        }
    }
}
