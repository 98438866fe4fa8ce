import Locking

/// A server's stopped flag and the `run()` calls waiting for it: ``wait(onCancel:)`` returns
/// once ``stop()`` was called; ``stop()`` reports whether it was the first call.
package final class StopLatch: Sendable {
    private struct State: Sendable {
        var stopped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = LockedValue(State())

    package init() {}

    /// Whether ``stop()`` was called. Cheap; safe under another lock (it calls nothing out).
    package var isStopped: Bool { state.withLock { $0.stopped } }

    /// Marks the server stopped; the first time, runs `shutDown` (stop listening, drop
    /// connections: outside the latch's lock, after ``isStopped`` turned true), then lets every
    /// waiter go. True the first time.
    @discardableResult
    package func stop(_ shutDown: () -> Void = {}) -> Bool {
        let (first, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            defer {
                state.stopped = true
                state.waiters = []
            }
            return (!state.stopped, state.waiters)
        }
        if first { shutDown() }
        for waiter in waiters { waiter.resume() }
        return first
    }

    /// Waits until ``stop()``; cancelling the calling task calls `onCancel` (which stops the
    /// server, and so ends the wait).
    package func wait(onCancel: @escaping @Sendable () -> Void) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.stopped { return true }
                    state.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            onCancel()
        }
    }
}
