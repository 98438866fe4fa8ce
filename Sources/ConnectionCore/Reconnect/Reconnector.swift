import Locking

/// Runs a ``ReconnectMachine`` for a client: opens connections, serves them, probes their
/// liveness, sleeps the backoff on an injected clock, and tells the client what happened
/// through its hooks. Every decision is the machine's; this type only carries actions out.
///
/// One driving task per client; the hooks must not retain the client's public object, so that
/// an app that drops its last reference shuts the client down (the client's `deinit` has its
/// engine call ``close(reason:)`` and close the connection it returns).
package final class Reconnector<Connection: Sendable, Reason: Sendable & Hashable>: Sendable {
    /// What the client does for the driver.
    package struct Hooks: Sendable {
        /// Opens a connection for attempt n (0: the app's connect): the connection, or why not.
        package var open: @Sendable (Int) async -> Result<Connection, OpenFailure>
        /// Sends the session's state on a new connection (login, subscriptions, requests).
        package var replaySession: @Sendable (Connection, _ isReconnect: Bool) -> Void
        /// Reads the connection until it ends; returns why it ended.
        package var serve: @Sendable (Connection) async -> Reason
        /// Drops a connection at once (dead, or opened after close).
        package var drop: @Sendable (Connection) -> Void
        /// A new state.
        package var publish: @Sendable (ReconnectMachine<Reason>.State) -> Void
        /// Reconnecting gave up: the client is closed with this reason.
        package var giveUp: @Sendable (Reason) -> Void

        /// Hooks for a client.
        package init(open: @escaping @Sendable (Int) async -> Result<Connection, OpenFailure>,
                     replaySession: @escaping @Sendable (Connection, Bool) -> Void,
                     serve: @escaping @Sendable (Connection) async -> Reason,
                     drop: @escaping @Sendable (Connection) -> Void,
                     publish: @escaping @Sendable (ReconnectMachine<Reason>.State) -> Void,
                     giveUp: @escaping @Sendable (Reason) -> Void) {
            self.open = open
            self.replaySession = replaySession
            self.serve = serve
            self.drop = drop
            self.publish = publish
            self.giveUp = giveUp
        }
    }

    /// Why an open failed, in the machine's terms.
    package struct OpenFailure: Error, Sendable {
        /// The reason reported in the state (and thrown by the app's first connect).
        package var reason: Reason
        /// Opaque detail the client wants back from ``start()`` (its typed error).
        package var detail: any Error & Sendable

        /// A failure with this reason and detail.
        package init(reason: Reason, detail: any Error & Sendable) {
            self.reason = reason
            self.detail = detail
        }
    }

    /// Probing a connection's liveness: every `interval` a probe that must be answered within
    /// `timeout`, else the connection is dropped and the loss reported with `reason`.
    ///
    /// A timeout during which the connection paused reading on purpose (its consumer is
    /// behind) does not count: the answer may be waiting unread behind the data, and data
    /// arriving shows the peer is alive. The probe then waits another `timeout`.
    package struct Liveness: Sendable {
        package var interval: Duration
        package var timeout: Duration
        package var reason: Reason
        package var probe: @Sendable (Connection) async -> Bool
        /// The connection's reading-pause epoch (see ``StreamConnection/readingPauseEpoch``).
        package var pauseEpoch: @Sendable (Connection) -> UInt64

        /// A liveness check.
        package init(interval: Duration, timeout: Duration, reason: Reason, probe: @escaping @Sendable (Connection) async -> Bool,
                     pauseEpoch: @escaping @Sendable (Connection) -> UInt64 = { _ in 0 }) {
            self.interval = interval
            self.timeout = timeout
            self.reason = reason
            self.probe = probe
            self.pauseEpoch = pauseEpoch
        }
    }

    private struct State: Sendable {
        var machine: ReconnectMachine<Reason>
        var connection: Connection?
        var driver: Task<Void, Never>?
        /// The open in progress, in a task of its own: the app's connect, cancelled, cancels
        /// only this (an open that completes anyway leaves a healthy driver behind).
        var opening: Task<Result<Connection, OpenFailure>, Never>?
        /// The app's connect was cancelled before its open started: cancel that open at once.
        var startCancelled = false
        /// The driver sleeps a backoff delay or opens a connection: cancelling it is safe.
        var interruptible = false
        var started: CheckedContinuation<OpenFailure?, Never>?
    }

    private let state: LockedValue<State>
    private let hooks: Hooks
    private let liveness: Liveness?
    private let clock: any Clock<Duration>
    private let random: @Sendable () -> Double

    /// A driver for `machine`.
    /// - Parameters:
    ///   - clock: sleeps the backoff delays and the liveness interval and timeout.
    ///   - random: a value in 0...1 per backoff delay (jitter); tests pass a fixed one.
    package init(machine: ReconnectMachine<Reason>, hooks: Hooks, liveness: Liveness?, clock: any Clock<Duration>,
                 random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) {
        self.state = LockedValue(State(machine: machine))
        self.hooks = hooks
        self.liveness = liveness
        self.clock = clock
        self.random = random
    }

    /// The machine's state.
    package var current: ReconnectMachine<Reason>.State { state.withLock { $0.machine.state } }

    /// The open connection, if any.
    package var connection: Connection? { state.withLock { $0.connection } }

    /// Starts the machine (the app's connect) and waits for the first attempt: nil once it is
    /// connected (the driver then keeps serving and reconnecting on its own), or the failure.
    /// Does nothing (returns nil) unless the machine is idle. Cancelling the caller abandons
    /// the attempt.
    package func start() async -> OpenFailure? {
        let actions = state.withLock { $0.machine.handle(.start) }
        guard !actions.isEmpty else { return nil }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                state.withLock { state in
                    state.started = continuation
                    state.driver = Task { await self.drive(actions) }
                }
            }
        } onCancel: {
            // Only the first open is abandoned, never the driver: a driver cancelled after the
            // open succeeded anyway would stop serving, probing and reconnecting for good.
            let opening = state.withLock { state -> Task<Result<Connection, OpenFailure>, Never>? in
                guard case .connecting(0) = state.machine.state else { return nil }
                if state.opening == nil { state.startCancelled = true }
                return state.opening
            }
            opening?.cancel()
        }
    }

    /// Starts the machine and returns at once: the driver connects (with a machine made
    /// `retryingFirstConnect`, it keeps trying until a connection opens), serves and reconnects
    /// on its own. Does nothing unless the machine is idle.
    package func launch() {
        let actions = state.withLock { $0.machine.handle(.start) }
        guard !actions.isEmpty else { return }
        let driver = Task { await self.drive(actions) }
        state.withLock { $0.driver = driver }
    }

    /// Closes for good (the app's disconnect): publishes the closed state, stops a pending
    /// backoff or open, and returns the open connection for the caller to close gracefully.
    package func close(reason: Reason) -> Connection? {
        let (actions, connection, driver) = state.withLock { state -> ([ReconnectMachine<Reason>.Action], Connection?, Task<Void, Never>?) in
            let actions = state.machine.handle(.closeRequested(reason))
            return (actions, state.connection, state.interruptible ? state.driver : nil)
        }
        for action in actions {
            if case .publish(let new) = action { hooks.publish(new) }
        }
        driver?.cancel()
        return connection
    }

    // MARK: Driving

    private func feed(_ event: ReconnectMachine<Reason>.Event) -> [ReconnectMachine<Reason>.Action] {
        let unit = random()
        return state.withLock { $0.machine.handle(event, unitRandom: unit) }
    }

    private func drive(_ initial: [ReconnectMachine<Reason>.Action]) async {
        defer {
            // Closed before the first attempt finished: the app's connect learns it here.
            if case .closed(let reason) = current { resumeStart(OpenFailure(reason: reason, detail: CancellationError())) }
        }
        var queue = initial[...]
        while let action = queue.popFirst() {
            switch action {
            case .publish(let new):
                hooks.publish(new)
            case .open(let attempt):
                let opening = Task { await hooks.open(attempt) }
                let cancelNow = state.withLock { state -> Bool in
                    state.interruptible = true
                    state.opening = opening
                    defer { state.startCancelled = false }
                    return attempt == 0 && state.startCancelled
                }
                if cancelNow { opening.cancel() }
                // A close cancels the driver, which cancels the open with it.
                let outcome = await withTaskCancellationHandler { await opening.value } onCancel: { opening.cancel() }
                state.withLock {
                    $0.interruptible = false
                    $0.opening = nil
                }
                switch outcome {
                case .success(let connection):
                    state.withLock { $0.connection = connection }
                    queue += feed(.opened)
                case .failure(let failure):
                    let next = feed(.openFailed(failure.reason))
                    if next.contains(where: { if case .failStart = $0 { true } else { false } }) {
                        for case .publish(let new) in next { hooks.publish(new) }
                        resumeStart(failure)
                        return
                    }
                    queue += next
                }
            case .replaySession(let isReconnect):
                if let connection = state.withLock({ $0.connection }) { hooks.replaySession(connection, isReconnect) }
            case .serve:
                resumeStart(nil)
                guard let connection = state.withLock({ $0.connection }) else { continue }
                let reason = await serve(connection)
                state.withLock { $0.connection = nil }
                queue += feed(.lost(reason))
            case .startTimer(let delay):
                state.withLock { $0.interruptible = true }
                let slept = (try? await clock.sleep(for: delay)) != nil
                state.withLock { $0.interruptible = false }
                guard slept else { return }
                queue += feed(.timerFired)
            case .cancelTimer:
                break
            case .dropConnection:
                if let connection = state.withLock({ $0.connection }) { hooks.drop(connection) }
            case .failStart:
                return  // handled with the open above
            case .giveUp(let reason):
                hooks.giveUp(reason)
                return
            }
        }
    }

    private func resumeStart(_ failure: OpenFailure?) {
        let continuation = state.withLock { state -> CheckedContinuation<OpenFailure?, Never>? in
            defer { state.started = nil }
            return state.started
        }
        continuation?.resume(returning: failure)
    }

    /// Serves one connection with the liveness probe beside it.
    private func serve(_ connection: Connection) async -> Reason {
        await withTaskGroup(of: Void.self) { group in
            if let liveness {
                group.addTask { await self.probeLoop(connection, liveness) }
            }
            let reason = await hooks.serve(connection)
            group.cancelAll()
            return reason
        }
    }

    /// Probes every interval; a probe unanswered within the timeout feeds
    /// ``ReconnectMachine/Event/livenessFailed(_:)`` and drops the connection.
    private func probeLoop(_ connection: Connection, _ liveness: Liveness) async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: liveness.interval)
            } catch {
                return
            }
            let outcome = await withTaskGroup(of: ProbeOutcome.self) { group in
                group.addTask { await liveness.probe(connection) ? .answered : .connectionEnded }
                group.addTask {
                    var epoch = liveness.pauseEpoch(connection)
                    while true {
                        do {
                            try await self.clock.sleep(for: liveness.timeout)
                        } catch {
                            return .cancelled
                        }
                        let now = liveness.pauseEpoch(connection)
                        if now == epoch && now % 2 == 0 { break }
                        epoch = now  // paused meanwhile (or still): wait another timeout
                    }
                    // Dropping the connection also ends the probe still waiting beside.
                    for action in self.feed(.livenessFailed(liveness.reason)) {
                        if case .dropConnection = action { self.hooks.drop(connection) }
                    }
                    return .timedOut
                }
                let first = await group.next() ?? .cancelled
                group.cancelAll()
                return first
            }
            guard case .answered = outcome else { return }
        }
    }
}

/// How one liveness probe ended.
private enum ProbeOutcome: Sendable {
    case answered
    case connectionEnded
    case timedOut
    case cancelled
}
