import Locking

/// Why a request stopped waiting for its reply before the reply came.
package enum ReplyAbandonment: Sendable, Hashable {
    /// Its timeout ran out.
    case timedOut
    /// The calling task was cancelled (before the call, or while it waited).
    case cancelled
}

/// Waits for the reply to one request of a client's request table, with the timeout and the
/// caller's cancellation handled once for every client.
///
/// The client's table keeps the waiter (a continuation) under the client's lock; this function
/// only decides when to take it back. Neither a cancellation that comes before the request has
/// an id nor one that comes while the waiter is being recorded is lost: the request is then
/// abandoned as soon as its id is known. The timeout is a timer of the shared event loop (for
/// the continuous clock) or one task sleeping on an injected clock, never a task group.
package enum ReplyWaiter {
    /// Registers a waiter and waits for its reply.
    /// - Parameters:
    ///   - timeout: How long to wait; nil waits until the reply or a cancellation.
    ///   - clock: The clock of the timeout; the continuous clock uses a loop timer.
    ///   - register: Records the waiter (under the client's lock) and sends the request; returns
    ///     the request's id, or nil when it has resumed the continuation itself (the client is
    ///     closed, the request was refused).
    ///   - abandon: Takes the waiter of request `id` out of the table (under the client's lock)
    ///     and, if it was still there, resumes it with the client's error for the reason. Called
    ///     at most once per wait (the timer and a cancellation race for it); the reply may have
    ///     resumed the waiter already. A task cancelled before the call registers nothing and
    ///     ends with `CancellationError`.
    /// - Returns: What the waiter was resumed with.
    package static func wait<Reply: Sendable, ID: Sendable & Equatable>(
        timeout: Duration?,
        clock: any Clock<Duration>,
        register: (CheckedContinuation<Reply, any Error>) -> ID?,
        abandon: @escaping @Sendable (ID, ReplyAbandonment) -> Void
    ) async throws -> Reply {
        let ticket = LockedValue(ReplyTicket<ID>.unregistered)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        defer {
            let timer = ticket.withLock { ticket -> ReplyDeadline? in
                defer { ticket = .finished }
                switch ticket {
                case .registered(_, let timer), .abandoned(let timer): return timer
                case .unregistered, .cancelled, .finished: return nil
                }
            }
            timer?.cancel()
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Reply, any Error>) in
                // Cancelled before anything was sent: nothing is registered or sent at all.
                if ticket.withLock({ if case .cancelled = $0 { true } else { false } }) {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                guard let id = register(continuation) else { return }
                let cancelledEarly = ticket.withLock { ticket -> Bool in
                    if case .cancelled = ticket { return true }
                    ticket = .registered(id, nil)
                    return false
                }
                if cancelledEarly {
                    ticket.withLock { $0 = .abandoned(nil) }
                    abandon(id, .cancelled)
                    return
                }
                guard let timeout, let deadline else { return }
                let timer: ReplyDeadline
                let expire: @Sendable () -> Void = {
                    if let id = Self.claim(ticket) { abandon(id, .timedOut) }
                }
                if clock is ContinuousClock {
                    timer = .loop(EventLoop.shared.schedule(at: deadline, expire))
                } else {
                    timer = .task(Task {
                        guard (try? await clock.sleep(for: timeout)) != nil else { return }
                        expire()
                    })
                }
                let finished = ticket.withLock { ticket -> Bool in
                    switch ticket {
                    case .registered(let current, nil) where current == id:
                        ticket = .registered(id, timer)
                        return false
                    case .abandoned(nil):
                        ticket = .abandoned(timer)  // cancelled meanwhile: the timer goes with the wait
                        return false
                    default:
                        return true
                    }
                }
                if finished { timer.cancel() }
            }
        } onCancel: {
            let marked = ticket.withLock { ticket -> Bool in
                guard case .unregistered = ticket else { return false }
                ticket = .cancelled
                return true
            }
            if !marked, let id = Self.claim(ticket) { abandon(id, .cancelled) }
        }
    }

    /// Takes the right to abandon the registered request: its id for the first caller (the
    /// timer or the cancellation), nil for the second and once the wait is over. So `abandon`
    /// runs at most once per wait.
    private static func claim<ID: Sendable>(_ ticket: LockedValue<ReplyTicket<ID>>) -> ID? {
        ticket.withLock { ticket -> ID? in
            guard case .registered(let id, let timer) = ticket else { return nil }
            ticket = .abandoned(timer)
            return id
        }
    }
}

/// Where one wait of ``ReplyWaiter`` stands.
private enum ReplyTicket<ID: Sendable>: Sendable {
    /// The request has no id yet.
    case unregistered
    /// The request waits under this id, its timeout armed (nil: not yet, or none).
    case registered(ID, ReplyDeadline?)
    /// Cancelled before the request had an id: abandon it as soon as it has one.
    case cancelled
    /// Abandoned (timed out or cancelled) once; the timer, if armed, is still to be cancelled.
    case abandoned(ReplyDeadline?)
    /// The wait is over.
    case finished
}

/// A timeout armed for one request.
private enum ReplyDeadline: Sendable {
    case loop(EventLoop.Timer)
    case task(Task<Void, Never>)

    func cancel() {
        switch self {
        case .loop(let timer): timer.cancel()
        case .task(let task): task.cancel()
        }
    }
}
