/// The sans-I/O heart of a timer-driven operator: one reader of the base, one timer and one
/// consumer feed it events; it answers with the continuations to resume. The owner
/// (``TimedRelay``) holds it under a lock and resumes outside.
///
/// Bounded by construction: it holds at most one immediate output (the reader waits until the
/// consumer took it, so the base's own buffering policy applies behind it) and one timed
/// output per position (a newer timed output replaces an untaken one at the end of the queue:
/// the newest debounced element, the longest silence). Errors of the base are delivered
/// after the outputs before them.
///
/// `Consumer`, `Reader` and `Timer` are the waiters' tokens (continuations in the operator,
/// plain values in tests).
struct TimedRelayStateMachine<Rule: TimedRule, Failure: Error, Consumer, Reader, Timer> {
    private struct Entry {
        var output: Rule.Output
        /// Emitted by a deadline (replaceable) rather than by an element (the reader waits on it).
        var timed: Bool
    }

    private enum Phase {
        /// No `next()` yet: nothing reads the base.
        case idle
        /// The reader and the timer run.
        case running
        /// The consumer got the end, or the iteration was cancelled: every later `next()` is nil.
        case done
    }

    private var rule: Rule
    private var phase = Phase.idle
    /// Outputs the consumer has not taken, oldest first (at most three: timed, immediate, timed).
    private var outputs: [Entry] = []
    /// How the base ended, delivered once `outputs` is empty; nil while it runs.
    private var ending: Result<Void, Failure>?
    private var deadline: Rule.Instant?
    /// The consumer suspended in `next()`; only while `outputs` is empty and the base runs.
    private var consumer: Consumer?
    /// The reader waiting for its immediate output to be taken.
    private var reader: Reader?
    /// The timer waiting for a deadline.
    private var timer: Timer?

    init(rule: Rule) {
        self.rule = rule
    }

    /// What `next()` does.
    enum NextAction {
        /// Resume the consumer at once with this (nil: the end); resume the reader too if given.
        case resume(Consumer, Result<Rule.Output?, Failure>, reader: Reader?)
        /// The consumer waits; start the reader and the timer first if `start`.
        case suspended(start: Bool)
    }

    /// The consumer asks for the next output.
    mutating func next(_ consumer: Consumer) -> NextAction {
        switch phase {
        case .done:
            return .resume(consumer, .success(nil), reader: nil)
        case .idle:
            phase = .running
            self.consumer = consumer
            return .suspended(start: true)
        case .running:
            if !outputs.isEmpty {
                let entry = outputs.removeFirst()
                let reader = entry.timed ? nil : takeReader()
                return .resume(consumer, .success(entry.output), reader: reader)
            }
            if let ending {
                phase = .done
                return .resume(consumer, ending.map { nil }, reader: nil)
            }
            precondition(self.consumer == nil, "Internal inconsistency: two concurrent next() calls on one iterator")
            self.consumer = consumer
            return .suspended(start: false)
        }
    }

    /// What the reader or the timer must resume after an event.
    struct Wakeups {
        /// The waiting consumer and what it gets.
        var consumer: (Consumer, Result<Rule.Output?, Failure>)?
        /// The waiting timer and the deadline it sleeps to next (nil: stop).
        var timer: (Timer, Rule.Instant?)?
    }

    /// The reader started reading at `now`.
    mutating func started(at now: Rule.Instant) -> Wakeups {
        guard phase == .running else { return Wakeups() }
        return setDeadline(rule.start(at: now))
    }

    /// The reader got `element` at `now`. `mustWait`: the reader waits (``readerWaits(_:)``)
    /// before reading on; `stop`: the iteration ended, stop reading.
    mutating func received(_ element: Rule.Element, at now: Rule.Instant) -> (wakeups: Wakeups, mustWait: Bool, stop: Bool) {
        guard phase == .running else { return (Wakeups(), false, true) }
        let (immediate, newDeadline) = rule.receive(element, at: now)
        var wakeups = setDeadline(newDeadline)
        var mustWait = false
        if let immediate {
            if let consumer = takeConsumer() {
                wakeups.consumer = (consumer, .success(immediate))
            } else {
                outputs.append(Entry(output: immediate, timed: false))
                mustWait = true
            }
        }
        return (wakeups, mustWait, false)
    }

    /// The reader waits for its immediate output to be taken. Returns the reader back when it
    /// need not wait (taken already, or the iteration ended); otherwise keeps it.
    mutating func readerWaits(_ reader: Reader) -> Reader? {
        guard phase == .running, outputs.contains(where: { !$0.timed }) else { return reader }
        self.reader = reader
        return nil
    }

    /// What the timer does next.
    enum TimerAction {
        /// Sleep until this deadline, then report ``deadlineReached(_:)``.
        case sleep(until: Rule.Instant)
        /// Stop: the base ended or the iteration was cancelled.
        case stop
        /// Wait to be resumed with a deadline (or nil: stop).
        case suspended
    }

    /// The timer asks what to sleep until.
    mutating func timerWaits(_ timer: Timer) -> TimerAction {
        guard phase == .running, ending == nil else { return .stop }
        if let deadline { return .sleep(until: deadline) }
        self.timer = timer
        return .suspended
    }

    /// The timer slept until `reached`; if that is still the deadline, the rule decides what is due.
    mutating func deadlineReached(_ reached: Rule.Instant) -> Wakeups {
        guard phase == .running, ending == nil, deadline == reached else { return Wakeups() }
        let (due, next) = rule.deadlineReached(reached)
        deadline = next
        var wakeups = Wakeups()
        if let due { wakeups.consumer = emitTimed(due) }
        return wakeups
    }

    /// The base finished (`.success`) or threw.
    mutating func baseEnded(_ result: Result<Void, Failure>) -> Wakeups {
        guard phase == .running else { return Wakeups() }
        deadline = nil
        var wakeups = Wakeups()
        if let timer = timer.take() { wakeups.timer = (timer, nil) }
        if let flushed = rule.end() { wakeups.consumer = emitTimed(flushed) }
        ending = result
        if wakeups.consumer == nil, let consumer = takeConsumer() {
            phase = .done
            wakeups.consumer = (consumer, result.map { nil })
        }
        return wakeups
    }

    /// Everything to resume when the iteration is cancelled (consumer with nil, reader and timer to stop).
    mutating func cancel() -> (consumer: Consumer?, reader: Reader?, timer: Timer?) {
        phase = .done
        outputs.removeAll()
        deadline = nil
        return (takeConsumer(), takeReader(), timer.take())
    }

    /// Delivers a timed output to the waiting consumer, or queues it (replacing an untaken
    /// timed output at the end of the queue).
    private mutating func emitTimed(_ output: Rule.Output) -> (Consumer, Result<Rule.Output?, Failure>)? {
        if let consumer = takeConsumer() { return (consumer, .success(output)) }
        if let last = outputs.indices.last, outputs[last].timed {
            outputs[last].output = output
        } else {
            outputs.append(Entry(output: output, timed: true))
        }
        return nil
    }

    private mutating func setDeadline(_ new: Rule.Instant?) -> Wakeups {
        deadline = new
        var wakeups = Wakeups()
        if let new, let timer = timer.take() { wakeups.timer = (timer, new) }
        return wakeups
    }

    private mutating func takeConsumer() -> Consumer? {
        defer { consumer = nil }
        return consumer
    }

    private mutating func takeReader() -> Reader? {
        defer { reader = nil }
        return reader
    }
}

extension Optional {
    /// The value, leaving nil behind.
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}

extension TimedRelayStateMachine: Sendable where Consumer: Sendable, Reader: Sendable, Timer: Sendable {}
