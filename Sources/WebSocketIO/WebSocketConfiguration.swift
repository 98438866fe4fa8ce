import ConnectionCore
import WebSocketCore

/// Limits and timeouts of one WebSocket connection, for either role.
package struct WebSocketConfiguration: Sendable {
    /// Frame and message size limits for what the peer sends (default 1 MiB each).
    package var limits: WebSocketSession.Configuration
    /// The largest opening-handshake head accepted (default 16 KiB).
    package var maxHandshakeSize: Int
    /// How long a client's connect may take: name resolution, TCP connect over all resolved
    /// addresses, and the opening handshake, together (default 10 s).
    package var connectTimeout: Duration
    /// How long the opening handshake alone may take once TCP is up: a server's bound on each
    /// peer, and a client's within `connectTimeout` (default 10 s).
    package var handshakeTimeout: Duration
    /// How long to wait for the peer's close frame, or for the server to close TCP after the
    /// close handshake, before dropping the connection (default 5 s).
    package var closeTimeout: Duration
    /// Received messages buffered for a consumer that has not taken them yet; past this, the
    /// connection stops reading from the socket until the consumer catches up (default 4 MiB).
    package var inboundBufferLimit: Int
    /// Bytes queued for the socket past which `send` waits for them to drain (default 4 MiB).
    package var outboundHighWater: Int
    /// Extra request header fields a client sends (Origin, authorization ...).
    package var extraHeaders: [(String, String)]
    /// permessage-deflate (RFC 7692): what a client offers, what a server accepts; nil
    /// (the default here) neither offers nor accepts it.
    package var deflate: PerMessageDeflateConfiguration?
    /// TLS for a client (`wss://`): nil (the default) connects in plaintext.
    package var tls: TLSConfiguration?
    /// A connection on which nothing was received or sent for this long is closed; nil (the
    /// default) never: WebSocket liveness is the heartbeat's business.
    package var idleTimeout: Duration?
    /// A connection whose output waits without one byte written for this long (the peer
    /// stopped reading) is dropped; nil (the default here, right for clients: a server that
    /// holds an agent back on purpose must not make it reset itself) never. The servers set
    /// 60 s (``serverDrainTimeout``).
    package var drainTimeout: Duration?

    /// The drain timeout of every WebSocket and HTTP server unless told otherwise.
    package static let serverDrainTimeout: Duration = .seconds(60)

    package init(limits: WebSocketSession.Configuration = .init(), maxHandshakeSize: Int = 16 * 1024,
                 connectTimeout: Duration = .seconds(10), handshakeTimeout: Duration = .seconds(10),
                 closeTimeout: Duration = .seconds(5), inboundBufferLimit: Int = 4 << 20,
                 outboundHighWater: Int = 4 << 20, extraHeaders: [(String, String)] = [],
                 deflate: PerMessageDeflateConfiguration? = nil, tls: TLSConfiguration? = nil,
                 idleTimeout: Duration? = nil, drainTimeout: Duration? = nil) {
        self.idleTimeout = idleTimeout
        self.drainTimeout = drainTimeout
        self.deflate = deflate
        self.tls = tls
        self.limits = limits
        self.maxHandshakeSize = maxHandshakeSize
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.inboundBufferLimit = inboundBufferLimit
        self.outboundHighWater = outboundHighWater
        self.extraHeaders = extraHeaders
    }

    /// The buffer and close settings of the connection underneath.
    package var connection: ConnectionConfiguration {
        ConnectionConfiguration(inboundBufferLimit: inboundBufferLimit, outboundHighWater: outboundHighWater, closeTimeout: closeTimeout,
                                idleTimeout: idleTimeout, drainTimeout: drainTimeout)
    }
}
