import Locking

/// Waits until every task in `tasks` ended, or `limit` passed, whichever comes first; a task
/// still running then is not waited for (one cancelled while it waits for a connect ends only
/// when the connect does). Returns whether they all ended in time.
/// - Parameters:
///   - tasks: The tasks to wait for.
///   - limit: How long to wait at most.
package func waitUntilEnded(_ tasks: [Task<Void, Never>], atMost limit: Duration) async -> Bool {
    guard !tasks.isEmpty else { return true }
    return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        let waiting = LockedValue<CheckedContinuation<Bool, Never>?>(continuation)
        let timer = Task {
            try? await Task.sleep(for: limit)
            waiting.withLock { $0.take() }?.resume(returning: false)
        }
        Task {
            for task in tasks { await task.value }
            timer.cancel()
            waiting.withLock { $0.take() }?.resume(returning: true)
        }
    }
}
