import Foundation
import Locking

/// Saves a file's newest snapshot on a thread of its own: callers hand over the bytes from any
/// context and wait (suspended, not blocking a thread) until a snapshot at least as new is on
/// the disk. Snapshots that arrive while one is written are coalesced: only the newest is
/// written next. The write itself is the caller's (an atomic replace: temporary file, `fsync`,
/// `rename`, `fsync` of the folder); ``SnapshotWriteState`` holds the rules.
package final class SnapshotFileWriter: Sendable {
    package typealias Waiter = CheckedContinuation<String?, Never>

    private let state = LockedValue(SnapshotWriteState<Waiter>())
    private let wakeup = DispatchSemaphore(value: 0)
    private let write: @Sendable ([UInt8]) -> String?

    /// Starts the writer thread.
    /// - Parameter write: replaces the file with the bytes; nil, or why it failed.
    package init(name: String, write: @escaping @Sendable ([UInt8]) -> String?) {
        self.write = write
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// A snapshot accepted for writing.
    package struct Ticket: Sendable, Hashable {
        /// The snapshot's version: later ones are newer.
        package let version: UInt64
        let wake: Bool
    }

    /// Accepts `bytes` as the file's newest content. Takes only this writer's lock and makes
    /// no system call, so a caller may hold its own lock (the one its snapshot was taken
    /// under, which keeps versions in the order of the states they show). Then ``wake(_:)``
    /// once unlocked, and ``waitUntilSaved(_:)``.
    /// - Returns: nil once the writer is closed.
    package func enqueue(_ bytes: [UInt8]) -> Ticket? {
        state.withLock { $0.save(bytes) }.map { Ticket(version: $0.version, wake: $0.wake) }
    }

    /// Wakes the writer for `ticket` if it was idle.
    package func wake(_ ticket: Ticket) {
        if ticket.wake { wakeup.signal() }
    }

    /// Waits until snapshot `version` (or a newer one) is on the disk.
    /// - Returns: nil once saved, or why it was not.
    package func waitUntilSaved(_ version: UInt64) async -> String? {
        await withCheckedContinuation { continuation in
            let known = state.withLock { $0.wait(for: version, continuation) }
            if let (waiter, outcome) = known { waiter.resume(returning: outcome) }
        }
    }

    /// Writes what is pending, then ends the thread; later saves fail.
    package func close() {
        if state.withLock({ $0.close() }) { wakeup.signal() }
    }

    private func run() {
        while true {
            wakeup.wait()
            while let snapshot = state.withLock({ $0.take() }) {
                let error = write(snapshot.bytes)
                let done = state.withLock { $0.finished(version: snapshot.version, error: error) }
                for (waiter, outcome) in done { waiter.resume(returning: outcome) }
            }
            let remaining = state.withLock { state -> [(Waiter, String?)]? in
                state.isFinished ? state.failRemaining() : nil
            }
            if let remaining {
                for (waiter, outcome) in remaining { waiter.resume(returning: outcome) }
                return
            }
        }
    }
}
