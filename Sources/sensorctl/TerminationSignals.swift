import Dispatch
import Foundation
import Locking

/// SIGINT and SIGTERM, handled from the moment ``onTerminationSignal(_:)`` returns.
///
/// The handler is installed with `sigaction` (synchronous) and only writes a byte to a pipe,
/// which a dispatch read source drains to call the registered handlers. A signal therefore
/// cannot be lost between installing and listening: the pipe keeps it until the source runs.
/// (Dispatch's own signal sources register asynchronously, and `signal(SIG_IGN)` before them
/// discarded a SIGTERM that arrived in between: a test that signalled the hub right after its
/// "listening" line hung under ThreadSanitizer. An earlier bug: a release build freed the
/// sources right after installing them, so they are kept in a process-wide store.)
private let installed = LockedValue<Installed?>(nil)

/// The pipe and read source, kept for the life of the process.
private struct Installed: @unchecked Sendable {
    let source: any DispatchSourceRead
    var handlers: [@Sendable () -> Void]
}

/// The pipe's write end, for the signal handler (which may only make async-signal-safe calls).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Calls `handler` on SIGINT or SIGTERM (every time one arrives) instead of the default
/// action, for as long as the process runs. Signals that arrive after this returns are never
/// lost, even before the handler first runs.
func onTerminationSignal(_ handler: @escaping @Sendable () -> Void) {
    let added = installed.withLock { state -> Bool in
        guard state != nil else { return false }
        state?.handlers.append(handler)
        return true
    }
    if added { return }
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { fatalError("sensorctl: no pipe for signals: \(String(cString: strerror(errno)))") }
    _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
    signalPipeWriteEnd = ends[1]
    let source = DispatchSource.makeReadSource(fileDescriptor: ends[0], queue: .global())
    let readEnd = ends[0]
    source.setEventHandler {
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = bytes.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        guard count > 0 else { return }
        let handlers = installed.withLock { $0?.handlers ?? [] }
        for _ in 0..<count { for handler in handlers { handler() } }
    }
    installed.withLock { $0 = Installed(source: source, handlers: [handler]) }
    source.resume()
    for number in [SIGINT, SIGTERM] {
        var action = sigaction()
        let onSignal: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 1
            _ = write(signalPipeWriteEnd, &byte, 1)
        }
#if canImport(Darwin)
        action.__sigaction_u.__sa_handler = onSignal
#else
        action.__sigaction_handler.sa_handler = onSignal
#endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(number, &action, nil)
    }
}

/// A stop request that may arrive before the thing to stop exists: create it first (it
/// listens for SIGINT and SIGTERM at once), start the server, then say how to stop it.
final class TerminationLatch: Sendable {
    private let state = LockedValue<(requested: Bool, action: (@Sendable () -> Void)?)>((false, nil))

    /// Starts listening for SIGINT and SIGTERM.
    init() {
        onTerminationSignal { [self] in fire() }
    }

    private func fire() {
        let action = state.withLock { state -> (@Sendable () -> Void)? in
            state.requested = true
            return state.action
        }
        action?()
    }

    /// Runs `action` on every termination signal from now on, and at once if one came already.
    func onRequest(_ action: @escaping @Sendable () -> Void) {
        let already = state.withLock { state -> Bool in
            state.action = action
            return state.requested
        }
        if already { action() }
    }
}
