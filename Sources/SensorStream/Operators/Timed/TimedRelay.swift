import Locking

/// Runs a ``TimedRule`` over a base sequence for one iterator: one task (started by the
/// first `next()`) with two children, the reader of the base and the timer, both feeding a
/// ``TimedRelayStateMachine`` under a lock; continuations are resumed after the lock is released.
///
/// Cancelling the consumer's task, or dropping the iterator (see ``TimedRelayLifetime``),
/// cancels the task and resumes every waiter.
final class TimedRelay<Base: AsyncSequence & Sendable, C: Clock, Rule: TimedRule>: Sendable
where Base.Element: Sendable, Rule.Element == Base.Element, Rule.Instant == C.Instant {
    typealias Output = Rule.Output
    typealias Failure = Base.Failure
    private typealias Machine = TimedRelayStateMachine<
        Rule, Failure,
        CheckedContinuation<Result<Output?, Failure>, Never>,
        CheckedContinuation<Bool, Never>,
        CheckedContinuation<C.Instant?, Never>
    >
    private typealias Wakeups = Machine.Wakeups

    private let base: Base
    private let clock: C
    private let tolerance: C.Instant.Duration?
    private let machine: LockedValue<Machine>
    private let task = LockedValue(TaskSlot.notStarted)

    /// The iteration's task, and whether it was cancelled before it existed.
    private enum TaskSlot: Sendable {
        case notStarted
        case running(Task<Void, Never>)
        case cancelled
    }

    init(base: Base, clock: C, tolerance: C.Instant.Duration?, rule: Rule) {
        self.base = base
        self.clock = clock
        self.tolerance = tolerance
        machine = LockedValue(Machine(rule: rule))
    }

    /// The next output; nil at the end or once cancelled; throws what the base threw.
    func next() async throws(Failure) -> Output? {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (consumer: CheckedContinuation<Result<Output?, Failure>, Never>) in
                switch machine.withLock({ $0.next(consumer) }) {
                case .resume(let consumer, let result, let reader):
                    reader?.resume(returning: true)
                    consumer.resume(returning: result)
                case .suspended(let start):
                    if start { startTask() }
                }
            }
        } onCancel: {
            cancel()
        }
        return try result.get()
    }

    /// Ends the iteration: the consumer gets nil, the reader and the timer stop.
    func cancel() {
        let (consumer, reader, timer) = machine.withLock { $0.cancel() }
        consumer?.resume(returning: .success(nil))
        reader?.resume(returning: false)
        timer?.resume(returning: nil)
        let running = task.withLock { slot -> Task<Void, Never>? in
            defer { slot = .cancelled }
            if case .running(let task) = slot { return task }
            return nil
        }
        running?.cancel()
    }

    private func startTask() {
        let started = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.read() }
                group.addTask { await self.runTimer() }
                // The reader ends first unless the iteration is cancelled; either way the other stops.
                await group.next()
                group.cancelAll()
            }
        }
        let cancelledAlready = task.withLock { task -> Bool in
            if case .cancelled = task { return true }
            task = .running(started)
            return false
        }
        if cancelledAlready { started.cancel() }
    }

    private func read() async {
        var iterator = base.makeAsyncIterator()
        resume(machine.withLock { $0.started(at: clock.now) })
        let ending: Result<Void, Failure>
        do throws(Failure) {
            while let element = try await iterator.next(isolation: nil) {
                let (wakeups, mustWait, stop) = machine.withLock { $0.received(element, at: clock.now) }
                resume(wakeups)
                if stop { return }
                if mustWait {
                    let goOn = await withCheckedContinuation { (reader: CheckedContinuation<Bool, Never>) in
                        if let reader = machine.withLock({ $0.readerWaits(reader) }) { reader.resume(returning: true) }
                    }
                    if !goOn { return }
                }
            }
            ending = .success(())
        } catch {
            ending = .failure(error)
        }
        resume(machine.withLock { $0.baseEnded(ending) })
    }

    private func runTimer() async {
        while true {
            let deadline = await withCheckedContinuation { (timer: CheckedContinuation<C.Instant?, Never>) in
                switch machine.withLock({ $0.timerWaits(timer) }) {
                case .sleep(let until): timer.resume(returning: until)
                case .stop: timer.resume(returning: nil)
                case .suspended: break
                }
            }
            guard let deadline else { return }
            do {
                try await clock.sleep(until: deadline, tolerance: tolerance)
            } catch {
                return
            }
            resume(machine.withLock { $0.deadlineReached(deadline) })
        }
    }

    private func resume(_ wakeups: Wakeups) {
        if let (consumer, result) = wakeups.consumer { consumer.resume(returning: result) }
        if let (timer, deadline) = wakeups.timer { timer.resume(returning: deadline) }
    }
}

/// Cancels a ``TimedRelay`` when the last copy of its iterator goes away (a `for await` loop
/// left with `break`, an iterator dropped), so its task never outlives its consumer.
final class TimedRelayLifetime: Sendable {
    private let cancel: @Sendable () -> Void

    init(cancel: @escaping @Sendable () -> Void) {
        self.cancel = cancel
    }

    deinit {
        cancel()
    }
}
