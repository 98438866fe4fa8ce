import Locking

/// The shared machinery of the timer-driven operators (debounce, liveness): a task reads
/// the base and hands each event to the operator's rule, which may arm a one-shot timer
/// that emits a value unless re-armed first. Output goes through an AsyncStream, so the
/// consumer side is the standard library's.
final class TimedRelay<Output: Sendable, C: Clock>: Sendable {
    /// What the base did.
    enum Event<Element> {
        /// Iteration began (before the first element).
        case started
        case element(Element)
        case finished
    }

    private struct State: Sendable {
        /// Bumped by every arm: a timer whose generation is stale stays silent.
        var generation: UInt64 = 0
        var pending: Output?
        var timer: Task<Void, Never>?
        var finished = false
    }

    private let clock: C
    private let continuation: AsyncStream<Output>.Continuation
    private let state = LockedValue(State())

    private init(clock: C, continuation: AsyncStream<Output>.Continuation) {
        self.clock = clock
        self.continuation = continuation
    }

    /// Starts reading `base`, calling `rule` for each event; returns the output stream.
    static func run<Base: AsyncSequence & Sendable>(
        base: Base, clock: C, rule: @escaping @Sendable (TimedRelay, Event<Base.Element>) -> Void
    ) -> AsyncStream<Output> where Base.Element: Sendable {
        let (stream, continuation) = AsyncStream.makeStream(of: Output.self, bufferingPolicy: .unbounded)
        let relay = TimedRelay(clock: clock, continuation: continuation)
        let reader = Task {
            rule(relay, .started)
            do {
                for try await element in base { rule(relay, .element(element)) }
            } catch {}
            rule(relay, .finished)
        }
        continuation.onTermination = { _ in
            reader.cancel()
            relay.cancelTimer()
        }
        return stream
    }

    /// Emits `value` after `delay` unless re-armed (or finished) before.
    func arm(after delay: C.Duration, emitting value: Output) {
        startTimer(pending: value) { [clock, state, continuation] generation in
            do {
                try await clock.sleep(for: delay)
            } catch {
                return
            }
            let due = state.withLock { state -> Output? in
                guard state.generation == generation, !state.finished, let pending = state.pending else { return nil }
                state.pending = nil
                return pending
            }
            if let due { continuation.yield(due) }
        }
    }

    /// Emits `make(1)` after `interval`, then `make(2)` after another, and so on, until
    /// re-armed (or finished).
    func armRepeating(every interval: C.Duration, _ make: @escaping @Sendable (Int) -> Output) {
        startTimer(pending: nil) { [clock, state, continuation] generation in
            var count = 1
            while true {
                do {
                    try await clock.sleep(for: interval)
                } catch {
                    return
                }
                guard state.withLock({ $0.generation == generation && !$0.finished }) else { return }
                continuation.yield(make(count))
                count += 1
            }
        }
    }

    /// Replaces the running timer (its generation goes stale) with a task running `body`.
    private func startTimer(pending: Output?, _ body: @escaping @Sendable (UInt64) async -> Void) {
        let generation = state.withLock { state -> UInt64 in
            state.timer?.cancel()
            state.generation += 1
            state.pending = pending
            return state.generation
        }
        let timer = Task { await body(generation) }
        state.withLock { state in
            if state.generation == generation { state.timer = timer } else { timer.cancel() }
        }
    }

    /// Emits `value` at once.
    func emit(_ value: Output) {
        continuation.yield(value)
    }

    /// Emits what is pending, then ends the output.
    func flushAndFinish() {
        let pending = state.withLock { state -> Output? in
            state.finished = true
            state.timer?.cancel()
            defer { state.pending = nil }
            return state.pending
        }
        if let pending { continuation.yield(pending) }
        continuation.finish()
    }

    /// Ends the output, dropping anything pending.
    func finish() {
        cancelTimer()
        continuation.finish()
    }

    fileprivate func cancelTimer() {
        state.withLock { state in
            state.finished = true
            state.timer?.cancel()
            state.timer = nil
        }
    }
}
