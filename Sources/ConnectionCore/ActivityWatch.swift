/// The idle and drain timeouts of one connection, as a value fed with byte counters and
/// instants: no clock is read per byte, the connection's loop looks at the counters every
/// quarter of the shorter timeout.
///
/// - Idle: no byte received or sent for ``ConnectionConfiguration/idleTimeout``: a silent
///   peer cannot hold one of a server's connections forever.
/// - Drain: output waiting and not one byte of it written for
///   ``ConnectionConfiguration/drainTimeout``: a peer that stopped reading is dropped instead
///   of holding its output (and, for a server, its paused commands) forever.
///
/// Either is reported between the timeout and the timeout plus one check interval after the
/// last activity.
package struct ActivityWatch: Sendable, Hashable {
    /// Which timeout ended a connection.
    package enum Expiry: Sendable, Hashable, CustomStringConvertible {
        /// Nothing received or sent for the idle timeout.
        case idle
        /// Output waited and none of it was written for the drain timeout.
        case drain

        /// The timeout, for logs.
        package var description: String {
            switch self {
            case .idle: "idle timeout"
            case .drain: "drain timeout (the peer stopped reading)"
            }
        }
    }

    private let idleTimeout: Duration?
    private let drainTimeout: Duration?
    /// How often the counters are compared.
    package let interval: Duration
    /// When the counters are compared next.
    package private(set) var nextCheck: ContinuousClock.Instant
    private var lastRead: UInt64 = 0
    private var lastWritten: UInt64 = 0
    private var lastCheck: ContinuousClock.Instant
    private var lastWaiting = false
    /// Since when nothing moved either way; nil while something did.
    private var quietSince: ContinuousClock.Instant?
    /// Since when output waited without a byte written; nil while it moved or none waited.
    private var stalledSince: ContinuousClock.Instant?

    /// A watch starting at `now`, or nil when neither timeout is set.
    package init?(idleTimeout: Duration?, drainTimeout: Duration?, now: ContinuousClock.Instant) {
        guard let shortest = [idleTimeout, drainTimeout].compactMap({ $0 }).min() else { return nil }
        self.idleTimeout = idleTimeout
        self.drainTimeout = drainTimeout
        interval = max(shortest / 4, .milliseconds(1))
        lastCheck = now
        nextCheck = now + interval
    }

    /// Compares the counters with the last check's (call at ``nextCheck`` or later).
    /// - Parameters:
    ///   - bytesRead: Every byte received so far.
    ///   - bytesWritten: Every byte written so far.
    ///   - outputWaiting: Whether output waits for the socket now.
    /// - Returns: The timeout that expired, or nil (then the next check is scheduled).
    package mutating func check(bytesRead: UInt64, bytesWritten: UInt64, outputWaiting: Bool,
                                now: ContinuousClock.Instant) -> Expiry? {
        let quiet = bytesRead == lastRead && bytesWritten == lastWritten
        quietSince = quiet ? (quietSince ?? lastCheck) : nil
        // A stall counts from the last check if output already waited then, else from now.
        let stalled = outputWaiting && bytesWritten == lastWritten
        stalledSince = stalled ? (stalledSince ?? (lastWaiting ? lastCheck : now)) : nil
        lastWaiting = outputWaiting
        lastRead = bytesRead
        lastWritten = bytesWritten
        lastCheck = now
        nextCheck = now + interval
        if let drainTimeout, let stalledSince, now - stalledSince >= drainTimeout { return .drain }
        if let idleTimeout, let quietSince, now - quietSince >= idleTimeout { return .idle }
        return nil
    }
}
