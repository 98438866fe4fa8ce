/// Buffers and timeouts of one ``StreamConnection``, whatever its protocol.
package struct ConnectionConfiguration: Sendable, Hashable {
    /// Received messages buffered for a consumer that has not taken them yet; past this, the
    /// connection stops reading from the socket until the consumer catches up (default 4 MiB).
    package var inboundBufferLimit: Int
    /// Bytes queued for the socket past which `send` waits for them to drain, and `sendNow`
    /// refuses with ``ConnectionError/outboundFull`` (default 4 MiB).
    package var outboundHighWater: Int
    /// How long the close handshake (or the peer's closing of TCP after it) may take before the
    /// connection is dropped (default 5 s).
    package var closeTimeout: Duration

    /// A configuration with these values.
    package init(inboundBufferLimit: Int = 4 << 20, outboundHighWater: Int = 4 << 20, closeTimeout: Duration = .seconds(5)) {
        self.inboundBufferLimit = inboundBufferLimit
        self.outboundHighWater = outboundHighWater
        self.closeTimeout = closeTimeout
    }
}
