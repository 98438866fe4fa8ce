import WebSocketCore
import UTF8Validation

/// Differential fuzzing of the receive path: the same bytes fed in one chunk, byte by byte and
/// in uneven chunks must give identical results.
///
/// Input: the first byte selects the role (bit 0) and the chunking seed (the other bits); the
/// rest is what the peer sent after the handshake.
enum FramesFuzzTarget {
    /// Small limits, so that the fuzzer reaches the 1009 paths with short inputs.
    static let configuration = WebSocketSession.Configuration(maxFrameSize: 1024, maxMessageSize: 3000)

    /// What one feeding strategy observed.
    struct Observation: Equatable {
        var events: [String] = []
        var output: [UInt8] = []
        var closure: WebSocketSession.Closure?
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let first = input.first else { return }
        let role: WebSocketSession.Role = first & 1 == 0 ? .client : .server
        let stream = Array(input.dropFirst())

        let whole = observe(role: role, stream: stream, chunks: [stream.count])
        let byteByByte = observe(role: role, stream: stream, chunks: Array(repeating: 1, count: stream.count))
        let uneven = observe(role: role, stream: stream, chunks: chunkSizes(count: stream.count, seed: first >> 1))
        precondition(whole == byteByByte, "byte-by-byte feeding differs from one chunk:\n\(whole)\n\(byteByByte)")
        precondition(whole == uneven, "uneven chunks differ from one chunk:\n\(whole)\n\(uneven)")
    }

    static func observe(role: WebSocketSession.Role, stream: [UInt8], chunks: [Int]) -> Observation {
        var session = WebSocketSession(role: role, configuration: configuration,
                                       maskingKeys: FixedMaskingKeys([WebSocketMaskingKey(1, 2, 3, 4)]))
        var observation = Observation()
        var offset = 0
        for size in chunks where size > 0 {
            // A fresh buffer per chunk, as a socket read gives: the session may unmask in place.
            var chunk = Array(stream[offset..<offset + size])
            offset += size
            chunk.withUnsafeMutableBytes { buffer in
                session.receive(buffer) { event in observation.events.append(describe(event)) }
            }
            if session.needsFinishClosing { session.finishClosing() }
            observation.output += session.takePendingOutput()
        }
        session.transportClosed()
        observation.closure = session.closure
        return observation
    }

    /// A comparable record of an event, checking the invariants the session promises.
    static func describe(_ event: WebSocketSession.Event) -> String {
        switch event {
        case .text(let payload):
            let bytes = payload.withUnsafeBytes { Array($0) }
            precondition(UTF8Validator.isValid(bytes), "a text message that is not UTF-8 was delivered")
            precondition(bytes.count <= configuration.maxMessageSize, "a message over the limit was delivered")
            return "text \(bytes)"
        case .binary(let payload):
            let bytes = payload.withUnsafeBytes { Array($0) }
            precondition(bytes.count <= configuration.maxMessageSize, "a message over the limit was delivered")
            return "binary \(bytes)"
        case .ping(let payload):
            let bytes = payload.withUnsafeBytes { Array($0) }
            precondition(bytes.count <= 125, "a control payload over 125 bytes was delivered")
            return "ping \(bytes)"
        case .pong(let payload):
            let bytes = payload.withUnsafeBytes { Array($0) }
            precondition(bytes.count <= 125, "a control payload over 125 bytes was delivered")
            return "pong \(bytes)"
        case .closeReceived(let frame):
            return "close \(frame)"
        case .failed(let error):
            return "failed \(error)"
        }
    }
}
