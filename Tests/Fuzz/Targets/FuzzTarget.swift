/// The libFuzzer targets of the package, as plain functions: `Tests/Fuzz/fuzz.sh` links them
/// into a libFuzzer binary, and the unit tests replay the committed corpus through them, so
/// every reproducer the fuzzer ever found stays a regression test.
///
/// Each target checks its own invariants and traps (`precondition`) when one breaks, which
/// libFuzzer reports as a crash with the input that caused it.
package enum FuzzTarget: String, CaseIterable, Sendable {
    /// Received bytes into a client- or server-role session, fed whole, byte by byte and in
    /// uneven chunks: the three must produce the same events, output and closure.
    case frames
    /// A server's handshake response, as the client reads and validates it.
    case clientHandshake = "client-handshake"
    /// A client's handshake request, as the server reads and answers it.
    case serverHandshake = "server-handshake"
    /// JSON text into the strict parser and the envelope decoder, with round trips.
    case json
    /// A script of app calls and server messages driving the client's subscription and
    /// request state, checked against a simple model.
    case clientState = "client-state"
    /// A metric store command stream into the server's line parser (whole and split, against
    /// a naive reference), the store's answers back through the client's answer parser.
    case metricLines = "metric-lines"
    /// A FastSlow stream into the size-prefix framer (whole and split) and the protobuf codec
    /// (whatever decodes re-encodes and decodes to the same message).
    case fastslow
    /// A control server's byte stream into the lantern's TLV decoder (whole, split, byte by
    /// byte), every record accounted for.
    case lanternTLV = "lantern-tlv"
    /// A client's byte stream into the HTTP/1.1 request parser (whole, split, in chunks).
    case httpRequest = "http-request"
    /// JSON text into the device protocol's decoders (hub -> agent, agent -> hub) and the
    /// agent's session.
    case agentMessages = "agent-messages"
    /// permessage-deflate: compressed frame streams into sessions that negotiated it (whole,
    /// byte by byte, in chunks), and extension headers through both sides' negotiation.
    case deflate
    /// Scripts of several connections' messages into the hub's dispatch (``HubCore``): roles,
    /// rights, ownership, limits.
    case hubDispatch = "hub-dispatch"
    /// A broker's byte stream into the MQTT 3.1.1 packet decoder (whole, split, byte by byte),
    /// every packet through the encoder and back.
    case mqttPackets = "mqtt-packets"

    /// Runs the target on one input.
    package func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .frames: FramesFuzzTarget.run(input)
        case .clientHandshake: HandshakeFuzzTarget.runClient(input)
        case .serverHandshake: HandshakeFuzzTarget.runServer(input)
        case .json: JSONFuzzTarget.run(input)
        case .clientState: ClientStateFuzzTarget.run(input)
        case .metricLines: MetricLinesFuzzTarget.run(input)
        case .fastslow: FastSlowFuzzTarget.run(input)
        case .lanternTLV: LanternTLVFuzzTarget.run(input)
        case .httpRequest: HTTPRequestFuzzTarget.run(input)
        case .agentMessages: AgentMessagesFuzzTarget.run(input)
        case .deflate: DeflateFuzzTarget.run(input)
        case .hubDispatch: HubDispatchFuzzTarget.run(input)
        case .mqttPackets: MQTTPacketsFuzzTarget.run(input)
        }
    }

    /// Runs the target on one input held in an array.
    package func run(_ input: [UInt8]) {
        input.withUnsafeBytes { run($0) }
    }
}

/// Splits `count` bytes into chunks whose sizes follow `seed`: uneven, 1 to 23 bytes, so that
/// headers, masks and UTF-8 sequences are cut at many different places.
func chunkSizes(count: Int, seed: UInt8) -> [Int] {
    var sizes: [Int] = []
    var remaining = count
    var state = UInt32(seed) &* 2_654_435_761 | 1
    while remaining > 0 {
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        let size = min(remaining, Int(state % 23) + 1)
        sizes.append(size)
        remaining -= size
    }
    return sizes
}

/// The common shape of the split-point targets: the input's first byte chooses where to split
/// the rest. Nil for an empty input.
func splitPoint(_ input: UnsafeRawBufferPointer) -> (seed: UInt8, stream: [UInt8], cut: Int)? {
    guard let first = input.first else { return nil }
    let stream = Array(input.dropFirst())
    return (first, stream, stream.isEmpty ? 0 : Int(first) % (stream.count + 1))
}
