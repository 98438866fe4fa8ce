/// The first bytes of a connection, before its codec takes over: an HTTP upgrade, a greeting.
/// Sans-I/O like the codec: bytes in, a verdict out.
package protocol StreamHandshake: Sendable {
    /// Bytes to send as soon as TCP is up (a client's request); empty when the peer speaks first.
    func initialOutput() -> [UInt8]

    /// Processes received bytes.
    mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress
}

/// How far a handshake got.
package enum HandshakeProgress: Sendable {
    /// More bytes are needed.
    case needMore
    /// Done: send `reply`, then `leftover` (bytes after the handshake) goes to the codec.
    /// `result` is what the handshake learned (a request path, a response head), kept for the
    /// protocol's typed API (``StreamConnection/handshakeResult``).
    case complete(reply: [UInt8], leftover: [UInt8], result: any Sendable)
    /// Refused: send `reply` (e.g. an HTTP 400), then close.
    case failed(reply: [UInt8], error: any Error & Sendable)
}
