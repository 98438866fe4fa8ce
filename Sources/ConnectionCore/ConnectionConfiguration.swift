/// Buffers, budgets and timeouts of one ``StreamConnection``, whatever its protocol.
package struct ConnectionConfiguration: Sendable, Hashable {
    /// Received messages buffered for a consumer that has not taken them yet; past this, the
    /// connection stops reading from the socket until the consumer catches up (default 4 MiB).
    package var inboundBufferLimit: Int
    /// Bytes queued for the socket past which `send` waits for them to drain, and `sendNow`
    /// refuses with ``ConnectionError/outboundFull`` (default 4 MiB).
    package var outboundHighWater: Int
    /// Write backpressure on reading (a server's rule, SwiftNIO's writability): once more than
    /// ``outboundHighWater`` bytes wait for the socket, the connection stops reading until
    /// they fall to this many, so a peer that sends commands and never reads the answers is
    /// held back by TCP instead of growing this process. Nil (the default, and right for
    /// clients): reading never waits for output, since two peers that both stop reading while
    /// their output is full would wait for each other forever. ``StreamListener`` sets it to
    /// half the high-water mark for every accepted connection unless told otherwise.
    package var outboundLowWater: Int?
    /// Reads (of up to 64 KiB each) a connection makes per readiness event before its loop
    /// serves the other ready connections; reading resumes on the loop's next turn (SwiftNIO's
    /// `maxMessagesPerRead`). Default 4.
    package var readsPerEvent: Int
    /// How long the close handshake (or the peer's closing of TCP after it) may take before the
    /// connection is dropped (default 5 s).
    package var closeTimeout: Duration
    /// An open connection on which no byte was received or sent for this long is closed
    /// (see ``ActivityWatch``). Nil (the default): never.
    package var idleTimeout: Duration?
    /// A connection whose output waits and has not moved by one byte for this long is dropped
    /// (the peer stopped reading). Nil (the default): never.
    package var drainTimeout: Duration?

    /// A configuration with these values.
    package init(inboundBufferLimit: Int = 4 << 20, outboundHighWater: Int = 4 << 20, outboundLowWater: Int? = nil,
                 readsPerEvent: Int = 4, closeTimeout: Duration = .seconds(5), idleTimeout: Duration? = nil,
                 drainTimeout: Duration? = nil) {
        self.idleTimeout = idleTimeout
        self.drainTimeout = drainTimeout
        self.inboundBufferLimit = inboundBufferLimit
        self.outboundHighWater = outboundHighWater
        self.outboundLowWater = outboundLowWater.map { min($0, outboundHighWater) }
        self.readsPerEvent = max(1, readsPerEvent)
        self.closeTimeout = closeTimeout
    }
}
