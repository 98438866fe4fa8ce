/// A rate limit, sans-I/O: `rate` actions a second on average, `burst` at once; time is the
/// caller's (a `Duration` since any fixed origin).
package struct TokenBucket: Sendable, Hashable {
    /// Actions a second, on average.
    package let rate: Double
    /// Actions at once, after a quiet spell.
    package let burst: Double
    private var tokens: Double
    private var last: Duration?

    /// A full bucket.
    package init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(burst)
        tokens = Double(burst)
    }

    /// Takes one action at `now`: false when the rate is exceeded (nothing taken).
    package mutating func take(at now: Duration) -> Bool {
        if let last, now > last {
            let elapsed = Double(now.components.seconds) - Double(last.components.seconds)
                + (Double(now.components.attoseconds) - Double(last.components.attoseconds)) / 1e18
            tokens = min(burst, tokens + elapsed * rate)
        }
        last = max(last ?? now, now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
