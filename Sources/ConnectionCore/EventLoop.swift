import Foundation
import Locking
import TCPTransport

/// Something an ``EventLoop`` watches a descriptor for. Called on the loop's thread only.
package protocol EventLoopHandler: AnyObject, Sendable {
    /// The descriptor is ready (or failed: ``PollEvents/failure``).
    func handleEvents(_ events: PollEvents)
}

/// One thread that multiplexes many sockets (epoll on Linux), runs timers and runs work handed
/// to it: the single I/O edge every connection, listener and handshake of this package runs on.
///
/// Handlers, interest changes and timers are loop-thread business: from another thread, hand
/// the work over with ``execute(_:)``. ``shared`` is the process-wide loop; tests and servers
/// may make their own.
package final class EventLoop: Sendable {
    /// The process-wide loop, started on first use; it lives as long as the process.
    package static let shared = EventLoop(name: "SensorStream I/O")

    /// A scheduled timer; ``cancel()`` makes sure it will not run (if it has not run yet).
    package struct Timer: Sendable {
        let id: UInt64
        let loop: EventLoop
        /// Cancels the timer. Idempotent.
        package func cancel() { loop.cancelTimer(id) }
    }

    private struct State: Sendable {
        var tasks: [@Sendable () -> Void] = []
        var wakePending = false
        var timers = TimerHeap()
        var timerBodies: [UInt64: @Sendable () -> Void] = [:]
        var lastTimerID: UInt64 = 0
        var thread: pthread_t?
    }

    private let state = LockedValue(State())
    private let wakeup: WakeupPipe
    /// Used on the loop's thread only (every caller checks ``inLoop``).
    private nonisolated(unsafe) let poller: any Poller
    /// The handler of each watched descriptor. Loop thread only.
    private nonisolated(unsafe) var handlers: [Int32: any EventLoopHandler] = [:]
    /// The buffer connections on this loop read into (64 KiB). Loop thread only.
    nonisolated(unsafe) let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// The loop's thread name, for debuggers.
    package let name: String

    /// Starts a loop on a new thread. `usePoll` picks the portable `poll(2)` poller instead of
    /// epoll (tests cover both).
    package init(name: String, usePoll: Bool = false) {
        self.name = name
        do {
            wakeup = try WakeupPipe()
        } catch {
            preconditionFailure("Internal inconsistency: no pipe for the event loop: \(error)")
        }
        let poller: any Poller
        #if os(Linux)
        if usePoll {
            poller = PollPoller()
        } else {
            do { poller = try EpollPoller() } catch { preconditionFailure("Internal inconsistency: no epoll instance: \(error)") }
        }
        #else
        poller = PollPoller()
        #endif
        self.poller = poller
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Whether the caller runs on this loop's thread.
    package var inLoop: Bool {
        let thread = state.withLock { $0.thread }
        return thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
    }

    /// Runs `task` on the loop's thread, after what it is doing now, in the order of calls.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        let wake = state.withLock { state -> Bool in
            state.tasks.append(task)
            guard !state.wakePending else { return false }
            state.wakePending = true
            return true
        }
        if wake { wakeup.wake() }
    }

    /// Runs `body` on the loop's thread at `deadline` (or soon after).
    @discardableResult
    package func schedule(at deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () -> Void) -> Timer {
        let (id, wake) = state.withLock { state -> (UInt64, Bool) in
            state.lastTimerID += 1
            let id = state.lastTimerID
            state.timers.insert(.init(deadline: deadline, id: id))
            state.timerBodies[id] = body
            let onLoop = state.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
            guard !onLoop, !state.wakePending else { return (id, false) }
            state.wakePending = true
            return (id, true)
        }
        if wake { wakeup.wake() }
        return Timer(id: id, loop: self)
    }

    private func cancelTimer(_ id: UInt64) {
        state.withLock { state in
            state.timers.cancel(id)
            state.timerBodies[id] = nil
        }
    }

    /// Watches `descriptor` for `interest` on behalf of `handler` (an empty set: not at all,
    /// but the handler stays registered). Loop thread only.
    package func setInterest(_ descriptor: Int32, _ interest: PollEvents, handler: any EventLoopHandler) {
        assert(inLoop, "Internal inconsistency: interest changed off the loop thread")
        if handlers[descriptor] !== handler { handlers[descriptor] = handler }
        try? poller.setInterest(descriptor, interest)
    }

    /// Stops watching `descriptor` and forgets its handler; call before closing it. Loop thread only.
    package func deregister(_ descriptor: Int32) {
        assert(inLoop, "Internal inconsistency: deregistered off the loop thread")
        handlers.removeValue(forKey: descriptor)
        try? poller.setInterest(descriptor, [])
    }

    // MARK: The loop

    private func run() {
        state.withLock { $0.thread = pthread_self() }
        try? poller.setInterest(wakeup.readDescriptor, .readable)
        var ready: [(descriptor: Int32, events: PollEvents)] = []
        var timeout: Int32 = 0
        while true {
            ready.removeAll(keepingCapacity: true)
            do {
                try poller.wait(timeoutMilliseconds: timeout, into: &ready)
            } catch {
                // EBADF/ENOMEM are not expected; do not spin at full speed if they happen.
                usleep(1000)
            }
            for (descriptor, events) in ready {
                if descriptor == wakeup.readDescriptor {
                    wakeup.drain()
                    continue
                }
                handlers[descriptor]?.handleEvents(events)
            }
            // Timers due and tasks handed over, in one lock acquisition; then the next wait's
            // timeout in another, after they ran (they may have added more).
            let (due, tasks) = state.withLock { state -> ([@Sendable () -> Void], [@Sendable () -> Void]) in
                let due = state.timers.isEmpty ? [] : state.timers.popDue(at: .now).compactMap { state.timerBodies.removeValue(forKey: $0) }
                state.wakePending = false
                defer { state.tasks.removeAll(keepingCapacity: true) }
                return (due, state.tasks)
            }
            for body in due { body() }
            for task in tasks { task() }
            timeout = state.withLock { state -> Int32 in
                if !state.tasks.isEmpty { return 0 }
                guard let deadline = state.timers.nextDeadline() else { return -1 }
                return ContinuousClock.now.duration(to: deadline).milliseconds
            }
        }
    }
}

