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
    ///     at most once per wait; the reply may have resumed the waiter already.
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
                if case .registered(_, let timer) = ticket { return timer }
                return nil
            }
            timer?.cancel()
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Reply, any Error>) in
                guard let id = register(continuation) else { return }
                let cancelledEarly = ticket.withLock { ticket -> Bool in
                    if case .cancelled = ticket { return true }
                    ticket = .registered(id, nil)
                    return false
                }
                if cancelledEarly {
                    abandon(id, .cancelled)
                    return
                }
                guard let timeout, let deadline else { return }
                let timer: ReplyDeadline
                if clock is ContinuousClock {
                    timer = .loop(EventLoop.shared.schedule(at: deadline) { abandon(id, .timedOut) })
                } else {
                    timer = .task(Task {
                        guard (try? await clock.sleep(for: timeout)) != nil else { return }
                        abandon(id, .timedOut)
                    })
                }
                let finished = ticket.withLock { ticket -> Bool in
                    guard case .registered(let current, nil) = ticket, current == id else { return true }
                    ticket = .registered(id, timer)
                    return false
                }
                if finished { timer.cancel() }
            }
        } onCancel: {
            let id = ticket.withLock { ticket -> ID? in
                switch ticket {
                case .registered(let id, _): return id
                case .unregistered:
                    ticket = .cancelled
                    return nil
                case .cancelled, .finished: return nil
                }
            }
            if let id { abandon(id, .cancelled) }
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
