/// Runs `operation` until it succeeds, waiting between failures as `backoff` says (the same
/// ``Backoff`` the client's own reconnects use), e.g. for an app's first connect:
///
/// ```swift
/// try await withRetry(SensorClient.Reconnect().backoff) { _ in try await client.connect() }
/// ```
///
/// - Parameters:
///   - backoff: Delays and the attempt limit (`maxAttempts` counts retries after the first try).
///   - clock: The clock to wait on (tests pass a manual one).
///   - unitRandom: Source of jitter, a value in 0...1 per retry.
///   - shouldRetry: Whether an error is worth another attempt (default: every error).
///   - operation: The work; gets the attempt number (0 = first try).
/// - Returns: What the first successful attempt returned.
/// - Throws: The last error once the attempts are used up or `shouldRetry` says no;
///   `CancellationError` if the task is cancelled while waiting.
public func withRetry<Value, C: Clock>(
    _ backoff: Backoff, clock: C, unitRandom: () -> Double = { Double.random(in: 0...1) },
    shouldRetry: (any Error) -> Bool = { _ in true },
    _ operation: (Int) async throws -> Value
) async throws -> Value where C.Duration == Duration {
    var attempt = 0
    while true {
        do {
            return try await operation(attempt)
        } catch {
            attempt += 1
            guard shouldRetry(error), let delay = backoff.delay(beforeAttempt: attempt, unitRandom: unitRandom()) else { throw error }
            try await clock.sleep(for: delay)
        }
    }
}

/// ``withRetry(_:clock:unitRandom:shouldRetry:_:)`` on the continuous clock, retrying every error.
/// - Parameters:
///   - backoff: Delays and the attempt limit.
///   - operation: The work; gets the attempt number (0 = first try).
/// - Returns: What the first successful attempt returned.
/// - Throws: The last error once the attempts are used up.
public func withRetry<Value>(_ backoff: Backoff, _ operation: (Int) async throws -> Value) async throws -> Value {
    try await withRetry(backoff, clock: ContinuousClock(), operation)
}

extension SensorClient.Reconnect {
    /// This policy as a ``Backoff``.
    public var backoff: Backoff {
        Backoff(initialDelay: initialDelay, maxDelay: maxDelay, multiplier: multiplier, jitter: jitter, maxAttempts: maxAttempts)
    }
}
