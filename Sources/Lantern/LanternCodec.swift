import ConnectionCore

/// The lantern's side of the TLV protocol as a codec for the shared connection core: received
/// bytes become arrays of ``LanternDecoder/Output`` (one per read). A lantern sends nothing;
/// closing is closing TCP (FIN) once pending output is written.
struct LanternCodec: BufferedTransportCodec {
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

    mutating func send(_ message: any Sendable) throws(ConnectionError) {
        throw closed ? .closed : .rejected("a lantern sends nothing")
    }

    var isReading: Bool { !closed }
}

/// The control server's side: raw TLV bytes go out; what a lantern sends (nothing, normally)
/// is read and dropped.
struct LanternServerCodec: BufferedTransportCodec {
    var output: [UInt8] = []
    var closed = false

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {}

    mutating func send(_ message: any Sendable) throws(ConnectionError) {
        guard !closed else { throw .closed }
        guard let bytes = message as? [UInt8] else { throw .rejected("not TLV bytes") }
        output += bytes
    }

    var isReading: Bool { !closed }
}
