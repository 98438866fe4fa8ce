/// When to open, wait and give up: the reconnect policy of every client, as a sans-I/O state
/// machine. Events in (a connection opened, was lost, a timer fired, the app closed), actions
/// out (open attempt n, wait this long, publish this state, replay the session, give up). A
/// driver (``Reconnector``) carries the actions out with an injected clock; tests feed events
/// by hand.
///
/// The first connection is the app's: if it fails, the machine goes back to idle and reports
/// the failure (`connect()` throws; the app decides whether to retry), unless it was made
/// with `retryingFirstConnect` (a device that waits for its server): then a failed first
/// attempt backs off like a loss. Once a connection was up, any loss reconnects with
/// ``Backoff`` until it allows no more attempts.
package struct ReconnectMachine<Reason: Sendable & Hashable>: Sendable {
    /// Where the connection stands.
    package enum State: Sendable, Hashable {
        /// Not started (or the first connect failed).
        case idle
        /// Opening: attempt 0 is the app's connect, n >= 1 the n-th reconnect.
        case connecting(attempt: Int)
        /// Open, session state replayed.
        case connected
        /// Lost; attempt `attempt` starts after `delay`. `reason` ended the previous connection.
        case backingOff(attempt: Int, delay: Duration, reason: Reason)
        /// Ended for good (closed by the app, or reconnecting gave up).
        case closed(reason: Reason)
    }

    /// Something that happened.
    package enum Event: Sendable, Hashable {
        /// The app asked to connect.
        case start
        /// The attempt in progress opened a connection.
        case opened
        /// The attempt in progress failed.
        case openFailed(Reason)
        /// The open connection ended.
        case lost(Reason)
        /// The connection stopped answering probes: it must be dropped; `reason` describes it.
        case livenessFailed(Reason)
        /// The backoff delay passed.
        case timerFired
        /// The app closed the client.
        case closeRequested(Reason)
    }

    /// What the driver does, in order.
    package enum Action: Sendable, Hashable {
        /// Open a connection (attempt 0: the app's connect).
        case open(attempt: Int)
        /// Wait `delay`, then feed ``Event/timerFired``.
        case startTimer(Duration)
        /// Forget the pending timer.
        case cancelTimer
        /// Tell observers the new state.
        case publish(State)
        /// Send the session's state on the new connection (login, subscriptions, pending
        /// requests); `isReconnect` after a loss.
        case replaySession(isReconnect: Bool)
        /// Read the new connection until it ends (then feed ``Event/lost(_:)``), probing its
        /// liveness beside.
        case serve
        /// Drop the current connection now (it is dead or unwanted).
        case dropConnection
        /// The app's first connect failed with this reason.
        case failStart(Reason)
        /// Reconnecting is over: close for good with this reason.
        case giveUp(Reason)
    }

    package private(set) var state: State = .idle
    package let backoff: Backoff
    /// Set by ``Event/livenessFailed(_:)``: the reason the following loss is reported with.
    private var livenessReason: Reason?
    /// Wraps a reason when reconnecting gives up (e.g. "gave up reconnecting after ...").
    private let givingUp: @Sendable (Reason) -> Reason
    /// A failed first attempt backs off and tries again instead of failing the start.
    package let retryingFirstConnect: Bool

    /// A machine that reconnects with `backoff`; `givingUp` words the final reason.
    /// `retryingFirstConnect`: the first attempt is retried like a reconnect.
    package init(backoff: Backoff, retryingFirstConnect: Bool = false, givingUp: @escaping @Sendable (Reason) -> Reason = { $0 }) {
        self.backoff = backoff
        self.retryingFirstConnect = retryingFirstConnect
        self.givingUp = givingUp
    }

    /// How an event relates to the machine's state.
    package enum EventFit: Sendable, Hashable {
        /// It moves the machine (or makes it act).
        case handled
        /// It came late or twice and legitimately does nothing: anything after close (but a
        /// connection opened after close, which is dropped), a second start, a liveness verdict
        /// on a connection that is gone already.
        case stale
        /// A driver that feeds it is broken: an open, failure, loss or timer the machine did not
        /// ask for (the driver runs one action at a time).
        case impossible
    }

    /// Whether `event` moves the machine, is stale, or cannot happen in the current state.
    package func fit(of event: Event) -> EventFit {
        switch (state, event) {
        case (.closed, .opened): .handled
        case (.closed, _): .stale
        case (_, .closeRequested): .handled
        case (.idle, .start): .handled
        case (_, .start): .stale
        case (.connecting, .opened), (.connecting, .openFailed): .handled
        case (.connected, .lost), (.connected, .livenessFailed): .handled
        case (.backingOff, .timerFired): .handled
        case (_, .livenessFailed): .stale
        case (.idle, _), (.connecting, _), (.connected, _), (.backingOff, _): .impossible
        }
    }

    /// Feeds an event. `unitRandom` (0...1) spreads a backoff delay by its jitter. Stale events
    /// (see ``EventFit/stale``) return nothing; an impossible one traps (a broken driver).
    package mutating func handle(_ event: Event, unitRandom: Double = 0.5) -> [Action] {
        switch fit(of: event) {
        case .handled: break
        case .stale: return []
        case .impossible: preconditionFailure("ReconnectMachine: \(event) cannot happen in \(state)")
        }
        switch (state, event) {
        case (.idle, .start):
            return transition(to: .connecting(attempt: 0), then: [.open(attempt: 0)])

        case (.connecting(let attempt), .opened):
            livenessReason = nil
            return [.replaySession(isReconnect: attempt > 0)] + transition(to: .connected, then: [.serve])

        case (.connecting(0), .openFailed(let reason)) where !retryingFirstConnect:
            return transition(to: .idle, then: [.failStart(reason)])

        case (.connecting(let attempt), .openFailed(let reason)):
            return backOff(before: attempt + 1, reason: reason, unitRandom: unitRandom)

        case (.connected, .livenessFailed(let reason)):
            livenessReason = reason
            return [.dropConnection]

        case (.connected, .lost(let reason)):
            let reported = livenessReason ?? reason
            livenessReason = nil
            return backOff(before: 1, reason: reported, unitRandom: unitRandom)

        case (.backingOff(let attempt, _, _), .timerFired):
            return transition(to: .connecting(attempt: attempt), then: [.open(attempt: attempt)])

        case (.closed, .opened):
            return [.dropConnection]

        case (.backingOff, .closeRequested(let reason)):
            return [.cancelTimer] + transition(to: .closed(reason: reason), then: [])

        case (_, .closeRequested(let reason)):
            return transition(to: .closed(reason: reason), then: [.dropConnection])

        default:
            preconditionFailure("ReconnectMachine: fit(of:) calls \(event) in \(state) handled, handle(_:) has no case for it")
        }
    }

    private mutating func backOff(before attempt: Int, reason: Reason, unitRandom: Double) -> [Action] {
        guard let delay = backoff.delay(beforeAttempt: attempt, unitRandom: unitRandom) else {
            let final = givingUp(reason)
            return transition(to: .closed(reason: final), then: [.giveUp(final)])
        }
        return transition(to: .backingOff(attempt: attempt, delay: delay, reason: reason), then: [.startTimer(delay)])
    }

    private mutating func transition(to next: State, then actions: [Action]) -> [Action] {
        state = next
        return [.publish(next)] + actions
    }
}
