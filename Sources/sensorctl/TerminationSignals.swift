import Dispatch
import Foundation
import Locking

/// The dispatch sources that watch SIGINT and SIGTERM, kept for the life of the process.
///
/// A source that nobody holds is cancelled when it is freed, and an optimized build frees a
/// local the moment it is last used (`_ = signals` is no use): a release `sensorctl hub` once
/// ignored SIGTERM because its sources were gone while the default action stayed disabled.
/// Keeping them here, in a process-wide store, makes losing them impossible.
private let installedSignalSources = LockedValue<[UncheckedSignalSource]>([])

/// A dispatch source as a value the store can hold (the Dispatch overlay does not declare
/// its sources `Sendable`; they are thread-safe objects, only ever appended here).
private struct UncheckedSignalSource: @unchecked Sendable {
    let source: any DispatchSourceSignal
}

/// Calls `handler` on SIGINT or SIGTERM (every time one arrives) instead of the default
/// action, for as long as the process runs.
func onTerminationSignal(_ handler: @escaping @Sendable () -> Void) {
    let sources = [SIGINT, SIGTERM].map { number -> UncheckedSignalSource in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        return UncheckedSignalSource(source: source)
    }
    installedSignalSources.withLock { $0 += sources }
}
