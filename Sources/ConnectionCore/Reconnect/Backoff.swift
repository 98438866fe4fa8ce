import Foundation

/// Exponential backoff with jitter (or a fixed delay), as a pure calculation: attempt number
/// in, delay out.
///
/// Delay of attempt n (from 1) = min(maxDelay, initialDelay × multiplier^(n-1)), then spread
/// by ±jitter with a random value the caller supplies (so tests choose it). A multiplier of 1
/// and no jitter is a fixed delay (``fixed(_:maxAttempts:)``).
public struct Backoff: Sendable, Hashable {
    /// Delay before attempt 1.
    public var initialDelay: Duration
    /// The largest delay, before jitter.
    public var maxDelay: Duration
    /// Growth factor between attempts (>= 1).
    public var multiplier: Double
    /// Spread: 0.2 = ±20 %.
    public var jitter: Double
    /// Attempts allowed; nil = unlimited.
    public var maxAttempts: Int?

    /// A policy with these parameters.
    /// - Parameters:
    ///   - initialDelay: Delay before attempt 1.
    ///   - maxDelay: The largest delay, before jitter.
    ///   - multiplier: Growth factor between attempts (below 1 counts as 1).
    ///   - jitter: Spread as a fraction, clamped to 0...1.
    ///   - maxAttempts: Attempts allowed; nil = unlimited.
    public init(initialDelay: Duration, maxDelay: Duration, multiplier: Double, jitter: Double, maxAttempts: Int?) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = max(1, multiplier)
        self.jitter = min(max(0, jitter), 1)
        self.maxAttempts = maxAttempts
    }

    /// The same delay before every attempt, without jitter.
    /// - Parameters:
    ///   - delay: the delay before each attempt.
    ///   - maxAttempts: attempts allowed; nil = unlimited.
    /// - Returns: The policy.
    public static func fixed(_ delay: Duration, maxAttempts: Int? = nil) -> Backoff {
        Backoff(initialDelay: delay, maxDelay: delay, multiplier: 1, jitter: 0, maxAttempts: maxAttempts)
    }

    /// The longest delay ``delay(beforeAttempt:unitRandom:)`` returns.
    private static let longestDelay = Duration.nanoseconds(Int64.max)

    /// The delay before `attempt` (1-based), or nil when the policy allows no such attempt.
    /// - Parameters:
    ///   - attempt: The attempt number, from 1 (0 or less: no delay).
    ///   - unitRandom: a value in 0...1; 0.5 gives the un-jittered delay.
    /// - Returns: The delay, or nil once `maxAttempts` is used up.
    public func delay(beforeAttempt attempt: Int, unitRandom: Double) -> Duration? {
        guard attempt >= 1 else { return .zero }
        if let maxAttempts, attempt > maxAttempts { return nil }
        let base = initialDelay.seconds * pow(multiplier, Double(min(attempt - 1, 64)))
        let capped = min(base, maxDelay.seconds)
        let spread = capped * jitter * (2 * min(max(unitRandom, 0), 1) - 1)
        // Clamped to what a Duration of nanoseconds holds (about 292 years): a huge maxDelay or
        // multiplier, or a negative initial delay, never traps.
        let nanoseconds = (capped + spread) * 1e9
        guard nanoseconds.isFinite else { return nanoseconds > 0 ? Self.longestDelay : .zero }
        guard nanoseconds < Double(Int64.max) else { return Self.longestDelay }
        return .nanoseconds(Int64(max(0, nanoseconds)))
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    package var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
