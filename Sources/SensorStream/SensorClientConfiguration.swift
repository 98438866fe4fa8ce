extension SensorClient {
    /// Every knob of a ``SensorClient``, each with a documented default.
    public struct Configuration: Sendable {
        /// How long ``SensorClient/sensorConnected(_:)`` waits for its answer. Default 5 s.
        public var requestTimeout: Duration
        /// WebSocket pings that detect a dead connection. Default: every 10 s, 10 s to answer.
        public var heartbeat: Heartbeat
        /// How lost connections are re-established. Default: 100 ms doubling to 30 s, ±20 %
        /// jitter, unlimited attempts.
        public var reconnect: Reconnect
        /// The WebSocket request path. Default "/".
        public var path: String
        /// How long opening TCP and the WebSocket handshake may take. Default 10 s.
        public var connectTimeout: Duration
        /// The largest message accepted from the server (WebSocket close 1009 beyond it).
        /// Default 1 MiB.
        public var maxMessageSize: Int
        /// What each stream and callback does when its consumer falls behind, unless it asks
        /// for its own: ``ReadingBuffering/newest(_:)`` drops the oldest (counted in
        /// ``SensorClient/statistics``), ``ReadingBuffering/lossless(_:)`` holds the connection
        /// back. Default `.newest(1024)`. (A consumer takes what is buffered in one step and
        /// then works through it, so at most twice the limit of one stream is held at a time.)
        public var readingBuffering: ReadingBuffering
        /// WebSocket compression (permessage-deflate) offered to the server. Default: offered,
        /// which costs nothing when the server declines. See ``Compression``.
        public var compression: Compression
        /// TLS for the connection; nil (the default) connects in plaintext. A `wss://` URL
        /// given to ``SensorClient/init(url:configuration:clock:)`` sets it to the default
        /// (full verification against the system's trust store) unless it is already set.
        public var tls: TLSConfiguration?
        /// The hub's app token, if it requires one: sent in the upgrade request as
        /// `Authorization: Bearer TOKEN` (never logged). A hub that requires a token refuses an
        /// upgrade without it, or with a wrong one, with 401 (``SensorClientError/connectionFailed(reason:)``).
        /// Default nil.
        public var token: String?

        /// The limit of ``readingBuffering``; setting it keeps the policy and changes the limit.
        public var readingBufferSize: Int {
            get { readingBuffering.limit }
            set { readingBuffering = readingBuffering.isLossless ? .lossless(newValue) : .newest(newValue) }
        }

        /// A configuration; every parameter left out keeps its default.
        /// - Parameters:
        ///   - requestTimeout: See ``requestTimeout``.
        ///   - heartbeat: See ``heartbeat``.
        ///   - reconnect: See ``reconnect``.
        ///   - path: See ``path``.
        ///   - connectTimeout: See ``connectTimeout``.
        ///   - maxMessageSize: See ``maxMessageSize``.
        ///   - readingBufferSize: The limit of a `.newest` ``readingBuffering``.
        ///   - readingBuffering: See ``readingBuffering``; wins over `readingBufferSize` when given.
        ///   - compression: See ``compression``.
        ///   - tls: See ``tls``.
        ///   - token: See ``token``.
        public init(requestTimeout: Duration = .seconds(5), heartbeat: Heartbeat = .init(),
                    reconnect: Reconnect = .init(), path: String = "/", connectTimeout: Duration = .seconds(10),
                    maxMessageSize: Int = 1 << 20, readingBufferSize: Int = 1024, readingBuffering: ReadingBuffering? = nil,
                    compression: Compression = .init(), tls: TLSConfiguration? = nil, token: String? = nil) {
            self.compression = compression
            self.token = token
            self.tls = tls
            self.requestTimeout = requestTimeout
            self.heartbeat = heartbeat
            self.reconnect = reconnect
            self.path = path
            self.connectTimeout = connectTimeout
            self.maxMessageSize = maxMessageSize
            self.readingBuffering = readingBuffering ?? .newest(readingBufferSize)
        }
    }

    /// Heartbeat: a WebSocket ping every `interval`; no pong within `timeout` counts as a
    /// lost connection (it finds half-open TCP connections) and triggers a reconnect.
    public struct Heartbeat: Sendable, Hashable {
        /// Time between pings. Default 10 s.
        public var interval: Duration
        /// Time a pong may take. Default 10 s.
        public var timeout: Duration
        /// Whether pings are sent at all.
        public var isEnabled: Bool

        /// A heartbeat with these timings.
        /// - Parameters:
        ///   - interval: Time between pings.
        ///   - timeout: Time a pong may take before the connection counts as lost.
        public init(interval: Duration = .seconds(10), timeout: Duration = .seconds(10)) {
            self.interval = interval
            self.timeout = timeout
            self.isEnabled = true
        }

        /// No heartbeat: a silent dead connection is only found when a write fails.
        public static let disabled: Heartbeat = {
            var heartbeat = Heartbeat()
            heartbeat.isEnabled = false
            return heartbeat
        }()
    }

    /// Reconnect policy: exponential backoff with jitter (see ``Backoff``).
    public struct Reconnect: Sendable, Hashable {
        /// Delay before the first reconnect attempt. Default 100 ms.
        public var initialDelay: Duration
        /// Upper bound of the delay. Default 30 s.
        public var maxDelay: Duration
        /// Factor between consecutive delays. Default 2.
        public var multiplier: Double
        /// Random spread of each delay, as a fraction: 0.2 means ±20 %. Default 0.2.
        public var jitter: Double
        /// Attempts before giving up (state `.disconnected`); nil = never give up. Default nil.
        public var maxAttempts: Int?

        /// A policy with these parameters.
        /// - Parameters:
        ///   - initialDelay: Delay before the first attempt.
        ///   - maxDelay: Upper bound of any delay.
        ///   - multiplier: Factor between consecutive delays.
        ///   - jitter: Random spread of each delay, as a fraction (0.2: ±20 %).
        ///   - maxAttempts: Attempts before giving up; nil never gives up.
        public init(initialDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(30),
                    multiplier: Double = 2, jitter: Double = 0.2, maxAttempts: Int? = nil) {
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
            self.multiplier = multiplier
            self.jitter = jitter
            self.maxAttempts = maxAttempts
        }

        /// No automatic reconnect.
        public static let disabled = Reconnect(maxAttempts: 0)
    }
}
