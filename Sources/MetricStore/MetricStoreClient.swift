@_exported import struct ConnectionCore.Backoff
@_exported import struct ConnectionCore.TLSConfiguration
@_exported import struct ConnectionCore.TLSServerConfiguration
@_exported import enum ConnectionCore.TLSError
@_exported import enum ConnectionCore.ClientPhase

/// A client of a metric store: `put` and `get` over one TCP connection, pipelined.
///
/// ```swift
/// let client = MetricStoreClient(host: "127.0.0.1", port: 8888, timeout: .seconds(15))
/// try await client.put("palm.cpu", 0.5, timestamp: 1150864247)
/// let all = try await client.get("*")   // ["palm.cpu": [MetricPoint(timestamp: 1150864247, value: 0.5)]]
/// ```
///
/// The connection opens on the first call. Concurrent calls share it: each command goes out at
/// once and its answer is matched by order. A connection lost mid-call reconnects with
/// backoff, and calls in flight are sent again (put and get are idempotent), within their
/// timeout. ``close()`` stops the client; so does letting go of it (its connection ends, calls
/// still waiting fail with ``MetricStoreClientError/connectionLost(_:)``).
public final class MetricStoreClient: Sendable {
    /// How a client connects, waits and reconnects.
    public struct Configuration: Sendable {
        /// How long a call may wait for its answer, reconnects included; nil waits forever.
        public var timeout: Duration?
        /// Delays between reconnect attempts, and how many.
        public var reconnect = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(10), multiplier: 2, jitter: 0.2, maxAttempts: nil)
        /// How long opening a connection may take (TCP and TLS together).
        public var connectTimeout: Duration = .seconds(10)
        /// TLS to the server (needs the package trait `TLS`); nil, the default, is plaintext.
        public var tls: TLSConfiguration?

        /// The defaults: no call timeout, reconnect from 100 ms up to 10 s, 10 s to connect, plaintext.
        /// - Parameter timeout: How long a call may wait for its answer; nil waits forever.
        public init(timeout: Duration? = nil) {
            self.timeout = timeout
        }
    }

    /// The server's host.
    public var host: String { engine.host }
    /// The server's port.
    public var port: Int { engine.port }
    /// How long a call may wait for its answer, reconnects included; nil waits forever.
    public var timeout: Duration? { engine.configuration.timeout }
    /// How the client connects, waits and reconnects.
    public var configuration: Configuration { engine.configuration }

    /// Everything the client runs; it never refers back to this object.
    let engine: MetricStoreClientEngine

    /// A client; nothing happens on the network until the first call.
    /// - Parameters:
    ///   - host: The server's host name or address.
    ///   - port: The server's port.
    ///   - configuration: Timeouts, reconnect and TLS.
    ///   - clock: The clock of call timeouts and reconnect delays (tests pass a manual one).
    public init(host: String, port: Int, configuration: Configuration, clock: any Clock<Duration> = ContinuousClock()) {
        engine = MetricStoreClientEngine(host: host, port: port, configuration: configuration, clock: clock)
    }

    /// A client; nothing happens on the network until the first call.
    /// - Parameters:
    ///   - host: The server's host name or address.
    ///   - port: The server's port.
    ///   - timeout: How long a call may wait for its answer; nil waits forever.
    ///   - reconnect: Delays between reconnect attempts, and how many.
    ///   - tls: TLS to the server (needs the package trait `TLS`); nil, the default, is plaintext.
    public convenience init(host: String, port: Int, timeout: Duration? = nil,
                            reconnect: Backoff = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(10), multiplier: 2, jitter: 0.2, maxAttempts: nil),
                            tls: TLSConfiguration? = nil) {
        var configuration = Configuration(timeout: timeout)
        configuration.reconnect = reconnect
        configuration.tls = tls
        self.init(host: host, port: port, configuration: configuration)
    }

    deinit {
        engine.shutdown()
    }

    /// The connection's states, starting with the current one; finishes after ``close()``.
    public var connectionStates: AsyncStream<MetricConnectionState> { engine.connectionStates }

    /// Stores a value (`put <key> <value> <timestamp>`).
    /// - Parameters:
    ///   - key: The metric: 1+ characters, no whitespace, not `*`.
    ///   - value: A finite value.
    ///   - timestamp: Unix seconds; nil: now, whole seconds.
    /// - Throws: ``MetricStoreClientError``.
    public func put(_ key: String, _ value: Double, timestamp: Int? = nil) async throws(MetricStoreClientError) {
        try await engine.put(key, value, timestamp: timestamp)
    }

    /// Reads the points of a key, or of every key for `*`.
    /// - Parameter key: A key, or `*`.
    /// - Returns: Points by key, each key's sorted by timestamp; empty when nothing matches.
    /// - Throws: ``MetricStoreClientError``.
    public func get(_ key: String) async throws(MetricStoreClientError) -> [String: [MetricPoint]] {
        try await engine.get(key)
    }

    /// Reads the points of a key (of every key for `*`) whose timestamps lie from `from` to
    /// `to`, both included (`get <key> <from> <to>`): the server's cost is the range, not the
    /// key's history.
    /// - Parameters:
    ///   - key: A key, or `*`.
    ///   - from: The first second read (unix seconds).
    ///   - to: The last second read.
    /// - Returns: Points by key, each key's sorted by timestamp; empty when nothing matches.
    /// - Throws: ``MetricStoreClientError``: ``MetricStoreClientError/invalidRange(from:to:)``
    ///   when `from` is after `to`, ``MetricStoreClientError/unsupportedByServer(_:)`` from a
    ///   server without range reads.
    public func get(_ key: String, from: Int, to: Int) async throws(MetricStoreClientError) -> [String: [MetricPoint]] {
        try await engine.get(key, from: from, to: to)
    }

    /// Puts every sample of `samples`, keeping at most `window` commands in flight: when the
    /// window is full it stops pulling from the sequence until answers come (backpressure).
    /// Commands go out in batches, one counter for the whole window instead of a waiter per put.
    /// Waits without a timeout; a connection lost for good fails it.
    /// - Parameters:
    ///   - samples: The samples, in order.
    ///   - window: Commands in flight at most (at least 1).
    /// - Returns: How many samples were stored.
    /// - Throws: ``MetricStoreClientError`` (an invalid sample: the ones before it are stored
    ///   first, nothing of it or after it is sent; the first put the server refused; a lost
    ///   connection); what the sequence threw (after what came before it is stored).
    public func record<Samples: AsyncSequence>(_ samples: Samples, window: Int = 1024) async throws -> Int
    where Samples.Element == MetricSample {
        try await engine.record(samples, window: window)
    }

    /// Puts every sample of a sequence at hand (an array, a batch collected elsewhere), as the
    /// `record` of an `AsyncSequence` does, without a suspension per sample: the fastest way to
    /// put many points.
    /// - Parameters:
    ///   - samples: The samples, in order.
    ///   - window: Commands in flight at most (at least 1).
    /// - Returns: How many samples were stored.
    /// - Throws: ``MetricStoreClientError``: an invalid sample (the ones before it are stored
    ///   first, nothing of it or after it is sent), the first put the server refused, a lost
    ///   connection.
    public func record<Samples: Sequence>(_ samples: Samples, window: Int = 1024) async throws(MetricStoreClientError) -> Int
    where Samples.Element == MetricSample {
        try await engine.record(samples, window: window)
    }

    /// Closes the connection for good; calls waiting fail with ``MetricStoreClientError/connectionLost(_:)``.
    public func close() {
        engine.close()
    }
}
