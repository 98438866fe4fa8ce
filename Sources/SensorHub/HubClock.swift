import ConnectionCore

/// The hub's time for command deadlines and rate limits: how long since it started, and a way
/// to run something at a later point of that time. On the continuous clock (what servers run)
/// a deadline is a timer of the shared event loop; on an injected clock (tests) it is a task
/// sleeping on that clock, so a test moves time by hand instead of waiting it out.
struct HubClock: Sendable {
    /// Time since the hub started.
    let elapsed: @Sendable () -> Duration
    /// Runs `body` once `offset` (time since the start) has come.
    let schedule: @Sendable (_ offset: Duration, _ body: @escaping @Sendable () -> Void) -> Void

    /// The continuous clock, with loop timers.
    static func continuous() -> HubClock {
        let start = ContinuousClock.now
        return HubClock(elapsed: { start.duration(to: .now) },
                        schedule: { offset, body in _ = EventLoop.shared.schedule(at: start + offset, body) })
    }

    /// An injected clock, with one sleeping task per deadline.
    static func on<C: Clock>(_ clock: C) -> HubClock where C.Duration == Duration {
        let start = clock.now
        return HubClock(elapsed: { start.duration(to: clock.now) },
                        schedule: { offset, body in
                            Task {
                                guard (try? await clock.sleep(until: start.advanced(by: offset), tolerance: nil)) != nil else { return }
                                body()
                            }
                        })
    }
}
