import Locking

/// The in-flight window of one `MetricStoreClient.record`: how many of its puts
/// await their answer, the first failure, and the recorder waiting for room (or for the end).
final class RecordWindow: Sendable {
    private struct State: Sendable {
        var inFlight = 0
        var stored = 0
        var failure: MetricStoreClientError?
        var waiter: (limit: Int, continuation: CheckedContinuation<Void, Never>)?
    }

    private let state = LockedValue(State())

    /// Puts stored so far.
    var stored: Int { state.withLock { $0.stored } }

    /// The first failure, if any.
    var failure: MetricStoreClientError? { state.withLock { $0.failure } }

    /// `count` more puts went out.
    func sent(_ count: Int) {
        state.withLock { $0.inFlight += count }
    }

    /// Answers arrived for `count` puts, `stored` of them `ok`; `failure` is the first error.
    func answered(_ count: Int, stored: Int, failure: MetricStoreClientError?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.inFlight -= count
            if let failure, state.failure == nil { state.failure = failure }
            state.stored += stored
            guard let waiter = state.waiter, state.inFlight <= waiter.limit || state.failure != nil else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Everything in flight failed (connection lost for good, client closed).
    func fail(_ error: MetricStoreClientError, count: Int) {
        answered(count, stored: 0, failure: error)
    }

    /// Waits until at most `limit` puts are in flight, or a failure happened. Cancelling the
    /// task is a failure (``MetricStoreClientError/cancelled``): the recorder stops at once, and
    /// the answers of puts already sent are still counted as they come.
    func wait(untilAtMost limit: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled, state.failure == nil { state.failure = .cancelled }
                    if state.inFlight <= limit || state.failure != nil { return true }
                    state.waiter = (limit, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if state.failure == nil { state.failure = .cancelled }
                defer { state.waiter = nil }
                return state.waiter?.continuation
            }
            waiter?.resume()
        }
    }
}
