import ConnectionCore

/// The lantern's side of the TLV protocol as a codec for the shared connection core: received
/// bytes become arrays of ``LanternDecoder/Output`` (one per read). A lantern sends nothing;
/// closing is closing TCP (FIN) once pending output is written.
struct LanternCodec: BufferedTransportCodec, MessageCodec {
    /// What one read completed, in order.
    typealias Inbound = [LanternDecoder.Output]
    /// A lantern sends nothing.
    typealias Outbound = Never

    private var decoder: LanternDecoder
    /// Always empty: a lantern sends nothing.
    var output: [UInt8] = []
    var closed = false
    private var outputs: [LanternDecoder.Output] = []

    init(registry: LanternCommandRegistry) {
        decoder = LanternDecoder(registry: registry)
    }

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !closed else { return }
        decoder.feed(UnsafeRawBufferPointer(input), into: &outputs)
        if !outputs.isEmpty {
            events.append(.message(outputs, byteCount: input.count))
            outputs.removeAll(keepingCapacity: true)
        }
    }

    mutating func queue(_ message: Never) throws(ConnectionError) {}

    var isReading: Bool { !closed }
}

/// The control server's side: raw TLV bytes go out; what a lantern sends (nothing, normally)
/// is read and dropped.
struct LanternServerCodec: BufferedTransportCodec, MessageCodec {
    /// The control server reads nothing from lanterns.
    typealias Inbound = Never
    /// Commands, TLV-encoded.
    typealias Outbound = [UInt8]

    var output: [UInt8] = []
    var closed = false

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {}

    mutating func queue(_ message: [UInt8]) throws(ConnectionError) {
        guard !closed else { throw .closed }
        output += message
    }

    var isReading: Bool { !closed }
}
