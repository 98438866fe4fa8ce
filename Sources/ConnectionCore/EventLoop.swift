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
/// the work over with ``execute(_:)``; the loop checks it in release builds too. ``shared`` is
/// the process-wide loop (the first of ``EventLoopGroup``'s process-wide loops); servers run
/// on a group of them, tests may make their own.
package final class EventLoop: Sendable {
    /// The process-wide loop, started on first use; it lives as long as the process. Clients
    /// run on it; it is also loop 0 of every ``EventLoopGroup/shared(loops:)`` group.
    package static let shared: EventLoop = EventLoopGroup.processLoop(0)

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

    /// Which kernel interface the loop waits with, and what it implies.
    package let backend: PollerBackend
    /// The most descriptors this loop watches at once (nil: no limit but the process's). A
    /// registration past it is refused (``setInterest(_:_:handler:)`` returns false) and the
    /// connection fails with a clear error: macOS's `poll(2)` fails with EINVAL for every
    /// descriptor above 10,240, which would stop the loop for all of them.
    package let descriptorLimit: Int?

    /// Starts a loop on a new thread.
    /// - Parameters:
    ///   - usePoll: true picks the portable `poll(2)` poller, false epoll (Linux); nil, the
    ///     default, follows ``PollerBackend/processDefault`` (`SENSORSTREAM_POLLER`).
    ///   - descriptorLimit: see ``descriptorLimit``; nil takes the backend's own limit.
    package init(name: String, usePoll: Bool? = nil, descriptorLimit: Int? = nil) {
        self.name = name
        do {
            wakeup = try WakeupPipe()
        } catch {
            preconditionFailure("Internal inconsistency: no pipe for the event loop: \(error)")
        }
        let backend = usePoll.map { $0 ? PollerBackend.poll : .epoll } ?? .processDefault
        let poller: any Poller
        #if os(Linux)
        if backend == .poll {
            poller = PollPoller()
            self.backend = .poll
        } else {
            do { poller = try EpollPoller() } catch { preconditionFailure("Internal inconsistency: no epoll instance: \(error)") }
            self.backend = .epoll
        }
        #else
        poller = PollPoller()
        self.backend = .poll
        #endif
        self.poller = poller
        // The wake-up pipe takes one of the descriptors poll(2) is asked about.
        self.descriptorLimit = descriptorLimit ?? self.backend.descriptorLimit.map { $0 - 1 }
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Whether the caller runs on this loop's thread. One thread-specific read, no lock: cheap
    /// enough to check loop confinement in release builds.
    package var inLoop: Bool {
        LoopThreadMarker.isCurrent(self)
    }

    /// Runs `task` on the loop's thread, after what it is doing now, in the order of calls.
    /// From the loop's own thread it costs no wake-up: the loop runs what was handed over
    /// before it waits again.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        let onLoop = inLoop
        let wake = state.withLock { state -> Bool in
            state.tasks.append(task)
            guard !onLoop, !state.wakePending else { return false }
            state.wakePending = true
            return true
        }
        if wake { wakeup.wake() }
    }

    /// Runs `body` on the loop's thread at `deadline` (or soon after).
    @discardableResult
    package func schedule(at deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () -> Void) -> Timer {
        let onLoop = inLoop
        let (id, wake) = state.withLock { state -> (UInt64, Bool) in
            state.lastTimerID += 1
            let id = state.lastTimerID
            state.timers.insert(.init(deadline: deadline, id: id))
            state.timerBodies[id] = body
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
    /// - Returns: false when the descriptor could not be watched: a new registration past
    ///   ``descriptorLimit``, or the kernel refused it. The handler is then not registered and
    ///   its owner must give the descriptor up.
    @discardableResult
    package func setInterest(_ descriptor: Int32, _ interest: PollEvents, handler: any EventLoopHandler) -> Bool {
        precondition(inLoop, "Internal inconsistency: interest changed off the loop thread")
        if handlers[descriptor] !== handler {
            if handlers[descriptor] == nil, let descriptorLimit, handlers.count >= descriptorLimit { return false }
            handlers[descriptor] = handler
        }
        do {
            try poller.setInterest(descriptor, interest)
            return true
        } catch {
            handlers.removeValue(forKey: descriptor)
            return false
        }
    }

    /// Stops watching `descriptor` and forgets its handler; call before closing it. Loop thread only.
    package func deregister(_ descriptor: Int32) {
        precondition(inLoop, "Internal inconsistency: deregistered off the loop thread")
        handlers.removeValue(forKey: descriptor)
        try? poller.setInterest(descriptor, [])
    }

    // MARK: The loop

    private func run() {
        LoopThreadMarker.mark(self)
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
            // timeout in another, after they ran (they may have added more). They are run and
            // released in a scope of their own, before the timeout is decided: what their
            // release hands to this loop (a `deinit` calling `execute`, which from the loop's
            // thread writes no wake-up) is seen by that decision.
            do {
                let (due, tasks) = state.withLock { state -> ([@Sendable () -> Void], [@Sendable () -> Void]) in
                    let due = state.timers.isEmpty ? [] : state.timers.popDue(at: .now).compactMap { state.timerBodies.removeValue(forKey: $0) }
                    state.wakePending = false
                    defer { state.tasks = [] }
                    return (due, state.tasks)
                }
                for body in due { body() }
                for task in tasks { task() }
            }
            timeout = state.withLock { state -> Int32 in
                if !state.tasks.isEmpty { return 0 }
                guard let deadline = state.timers.nextDeadline() else { return -1 }
                return ContinuousClock.now.duration(to: deadline).milliseconds
            }
        }
    }
}

