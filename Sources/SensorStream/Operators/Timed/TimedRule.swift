/// What makes a timer-driven operator (debounce, liveness) what it is: how it answers an
/// element, a deadline and the end of its base. ``TimedRelayStateMachine`` does the rest
/// (ordering, bounds, waiting consumers, errors), the same for every rule.
///
/// Deadlines a rule returns never move earlier than the one before: the timer sleeps until
/// the current deadline, and if the deadline moved later meanwhile it sleeps again.
protocol TimedRule: Sendable {
    /// The base sequence's element.
    associatedtype Element: Sendable
    /// What the operator emits.
    associatedtype Output: Sendable
    /// The clock's instant.
    associatedtype Instant: InstantProtocol

    /// Iteration began at `now`; returns the first deadline, if any.
    mutating func start(at now: Instant) -> Instant?

    /// An element arrived at `now`. Returns what to emit at once (the reader then waits until
    /// the consumer took it) and the new deadline (nil: none).
    mutating func receive(_ element: Element, at now: Instant) -> (immediate: Output?, deadline: Instant?)

    /// The current deadline passed. Returns what is due and the next deadline (nil: none).
    mutating func deadlineReached(_ deadline: Instant) -> (due: Output?, next: Instant?)

    /// The base ended (finished or failed); returns what to emit before the end.
    mutating func end() -> Output?
}
