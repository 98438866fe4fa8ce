import WebSocketCore
import UTF8Validation

/// Fuzzing of permessage-deflate (RFC 7692) from the network's side.
///
/// Input: the first byte selects the mode. With bit 7 clear, the rest is a frame stream into
/// a session that negotiated compression (bit 0: role, bit 1: the peer resets its window,
/// bits 2-4: the peer's window bits 8 + n), fed whole, byte by byte and in uneven chunks
/// (bits 5-6 seed the chunking): the three must agree, and nothing over the message limit or
/// invalid as text is delivered. With bit 7 set, the rest is a `Sec-WebSocket-Extensions`
/// value, negotiated by a server and checked by a client: an agreement must round-trip.
enum DeflateFuzzTarget {
    /// Small limits, so that the fuzzer reaches the 1009 paths (inflation included) with short inputs.
    static let configuration = WebSocketSession.Configuration(maxFrameSize: 1024, maxMessageSize: 3000)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let rest = Array(input.dropFirst())
        if first & 0x80 != 0 {
            runHeader(String(decoding: rest, as: UTF8.self))
        } else {
            runFrames(mode: first, stream: rest)
        }
    }

    static func runHeader(_ header: String) {
        guard let offers = WebSocketExtension.parseList(header) else { return }
        // What parses re-parses from its own text to the same list.
        precondition(WebSocketExtension.parseList(offers.map(\.headerText).joined(separator: ", ")) == offers,
                     "an extension list does not round-trip: \(header)")
        for configuration in [PerMessageDeflateConfiguration(), PerMessageDeflateConfiguration(windowBits: 10, noContextTakeover: true,
                                                                                                 peerNoContextTakeover: true, peerMaxWindowBits: 9)] {
            guard let (agreed, response) = PerMessageDeflateParameters.negotiate(offers: offers, configuration: configuration) else { continue }
            precondition((8...15).contains(agreed.serverMaxWindowBits) && (8...15).contains(agreed.clientMaxWindowBits),
                         "window bits out of range: \(agreed)")
            precondition(offers.contains { $0.name == PerMessageDeflateParameters.extensionName },
                         "agreed without a permessage-deflate offer")
            let reparsed = WebSocketExtension.parseList(response.headerText)
            precondition(reparsed == [response], "the response element does not round-trip")
            // Sessions built from the agreement work both ways.
            var server = WebSocketSession(role: .server, configuration: roundTripLimits, deflate: PerMessageDeflate(
                parameters: agreed, isServer: true, configuration: configuration))
            var client = WebSocketSession(role: .client, configuration: roundTripLimits, deflate: PerMessageDeflate(
                parameters: agreed, isServer: false, configuration: .init()))
            try? server.sendText(header)
            var bytes = server.takePendingOutput()
            var received: [String] = []
            bytes.withUnsafeMutableBytes { buffer in
                client.receive(buffer) { event in
                    if case .text(let payload) = event { received.append(payload.string) }
                }
            }
            precondition(header.utf8.count > roundTripLimits.maxMessageSize || received == [header], "a compressed message did not round-trip")
        }
    }

    /// Limits of the sessions that round-trip a header's text: large enough for any input.
    private static let roundTripLimits = WebSocketSession.Configuration(maxFrameSize: 1 << 16, maxMessageSize: 1 << 16)

    static func runFrames(mode: UInt8, stream: [UInt8]) {
        let role: WebSocketSession.Role = mode & 1 == 0 ? .client : .server
        let parameters = PerMessageDeflateParameters(
            serverNoContextTakeover: mode & 2 != 0, clientNoContextTakeover: mode & 2 != 0,
            serverMaxWindowBits: 8 + Int((mode >> 2) & 7), clientMaxWindowBits: 8 + Int((mode >> 2) & 7))
        let deflate = PerMessageDeflate(parameters: parameters, isServer: role == .server, configuration: .init())
        let whole = observe(role: role, deflate: deflate, stream: stream, chunks: [stream.count])
        let byteByByte = observe(role: role, deflate: deflate, stream: stream, chunks: Array(repeating: 1, count: stream.count))
        let uneven = observe(role: role, deflate: deflate, stream: stream, chunks: chunkSizes(count: stream.count, seed: mode >> 5))
        precondition(whole == byteByByte, "byte-by-byte feeding differs from one chunk:\n\(whole)\n\(byteByByte)")
        precondition(whole == uneven, "uneven chunks differ from one chunk:\n\(whole)\n\(uneven)")
    }

    static func observe(role: WebSocketSession.Role, deflate: PerMessageDeflate, stream: [UInt8], chunks: [Int]) -> FramesFuzzTarget.Observation {
        var session = WebSocketSession(role: role, configuration: configuration,
                                       maskingKeys: FixedMaskingKeys([WebSocketMaskingKey(1, 2, 3, 4)]), deflate: deflate)
        var observation = FramesFuzzTarget.Observation()
        var offset = 0
        for size in chunks where size > 0 {
            var chunk = Array(stream[offset..<offset + size])
            offset += size
            chunk.withUnsafeMutableBytes { buffer in
                session.receive(buffer) { event in observation.events.append(FramesFuzzTarget.describe(event)) }
            }
            if session.needsFinishClosing { session.finishClosing() }
            observation.output += session.takePendingOutput()
        }
        session.transportClosed()
        observation.closure = session.closure
        return observation
    }
}
