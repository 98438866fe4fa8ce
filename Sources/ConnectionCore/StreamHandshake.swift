/// The first bytes of a connection, before its codec takes over: an HTTP upgrade, a greeting.
/// Sans-I/O like the codec: bytes in, a verdict out.
package protocol StreamHandshake<Codec>: Sendable {
    /// The codec the connection runs once the handshake succeeds.
    associatedtype Codec: StreamCodec

    /// Bytes to send as soon as TCP is up (a client's request); empty when the peer speaks first.
    func initialOutput() -> [UInt8]

    /// Processes received bytes. May configure `codec` (e.g. record the request path).
    mutating func receive(_ input: UnsafeRawBufferPointer, codec: inout Codec) -> HandshakeProgress
}

/// How far a handshake got.
package enum HandshakeProgress: Sendable {
    /// More bytes are needed.
    case needMore
    /// Done: send `reply`, then `leftover` (bytes after the handshake) goes to the codec.
    case complete(reply: [UInt8], leftover: [UInt8])
    /// Refused: send `reply` (e.g. an HTTP 400), then close.
    case failed(reply: [UInt8], error: any Error & Sendable)
}

/// For protocols that start talking at once: completes before any byte is read.
package struct NoHandshake<Codec: StreamCodec>: StreamHandshake {
    package init() {}
    package func initialOutput() -> [UInt8] { [] }
    package mutating func receive(_ input: UnsafeRawBufferPointer, codec: inout Codec) -> HandshakeProgress {
        .complete(reply: [], leftover: Array(input))
    }
}
