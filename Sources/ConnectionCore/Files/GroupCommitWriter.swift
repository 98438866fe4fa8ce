import Foundation
import Locking
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// An append-only file written by a thread of its own with group commit: callers append from
/// any context (even under a lock of their own: an append takes only this writer's lock and
/// makes no system call), then wait until their bytes are on the disk. The thread writes
/// everything appended since its last batch with one `write` and one `fsync`, so the file
/// costs one `fsync` per batch however many connections append, and no event loop or
/// cooperative-pool thread ever blocks on the disk. ``GroupCommitState`` holds the rules.
package final class GroupCommitWriter: Sendable {
    /// Why an append failed or was not made durable.
    package typealias Failure = GroupCommitFailure
    package typealias Waiter = CheckedContinuation<Result<Void, GroupCommitFailure>, Never>

    /// An accepted append: wait for it with ``waitUntilDurable(_:)`` after ``wake(_:)``.
    package struct Ticket: Sendable, Hashable {
        /// The append's number, in file order.
        package let sequence: UInt64
        /// The writer was idle: wake it (outside any lock).
        let wake: Bool
    }

    /// Puts a new file in the old one's place: given its whole content, writes and syncs it and
    /// returns a descriptor open for appending to it; throws what failed.
    package typealias Replace = @Sendable ([UInt8]) throws(GroupCommitFailure) -> Int32

    private let state = LockedValue(GroupCommitState<Waiter>())
    private let wakeup = DispatchSemaphore(value: 0)
    private let initialDescriptor: Int32
    private let sync: @Sendable (Int32) -> Int32
    private let replace: Replace?

    /// Starts the writer thread for `descriptor` (open for appending); the writer closes it
    /// after ``close()``.
    /// - Parameters:
    ///   - sync: flushes the descriptor to the disk, returning 0 or -1 with `errno` set
    ///     (`fsync`; tests inject failures here).
    ///   - replace: how a ``rewrite(_:)`` puts a new file in place (nil: rewrites fail).
    package init(descriptor: Int32, name: String, sync: @escaping @Sendable (Int32) -> Int32 = { fsync($0) }, replace: Replace? = nil) {
        initialDescriptor = descriptor
        self.sync = sync
        self.replace = replace
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Replaces the file with what `render` makes, after everything appended before (call it
    /// in the same lock acquisitions as ``append(_:)``, so the snapshot `render` holds is the
    /// state those appends made); appends after it follow the new content. Counted as an
    /// append: wake the writer with the ticket. A rewrite that fails is a failed write
    /// (fail-stop).
    /// - Throws: ``Failure`` once a batch failed or the writer is closed.
    package func rewrite(_ render: @escaping GroupCommitState<Waiter>.Render) throws(Failure) -> Ticket {
        let (sequence, wake) = try state.withLock { (state) throws(Failure) in try state.rewrite(render) }
        return Ticket(sequence: sequence, wake: wake)
    }

    /// Accepts `bytes` after everything appended before. Call ``wake(_:)`` with the ticket
    /// once any lock of the caller's is released.
    /// - Throws: ``Failure`` once a batch failed (fail-stop) or the writer is closed.
    package func append(_ bytes: [UInt8]) throws(Failure) -> Ticket {
        let (sequence, wake) = try state.withLock { (state) throws(Failure) in try state.append(bytes) }
        return Ticket(sequence: sequence, wake: wake)
    }

    /// Wakes the writer for `ticket` if it was idle.
    package func wake(_ ticket: Ticket) {
        if ticket.wake { wakeup.signal() }
    }

    /// Waits until the append `sequence` (and every one before it) is on the disk.
    /// - Returns: success, or why it will never be.
    package func waitUntilDurable(_ sequence: UInt64) async -> Result<Void, Failure> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { $0.wait(for: sequence, continuation) }
            if let (waiter, outcome) = ready { waiter.resume(returning: outcome) }
        }
    }

    /// Whether a write or `fsync` failed (then every append fails).
    package var hasFailed: Bool {
        state.withLock { if case .failed = $0.failure { true } else { false } }
    }

    /// Refuses further appends, fails the waiters, and lets the thread finish (it writes
    /// nothing more and closes the file).
    package func close() {
        let waiters = state.withLock { $0.close() }
        for (waiter, outcome) in waiters { waiter.resume(returning: outcome) }
        wakeup.signal()
    }

    private func run() {
        // The file this thread appends to (a rewrite puts another in its place).
        var descriptor = initialDescriptor
        while true {
            wakeup.wait()
            while let batch = state.withLock({ $0.takeBatch() }) {
                let failed: String?
                if let render = batch.rewrite {
                    do throws(GroupCommitFailure) {
                        guard let replace else { throw .failed("this file cannot be rewritten") }
                        let replacement = try replace(render() + batch.bytes)
                        FileDescriptorIO.close(descriptor)
                        descriptor = replacement
                        failed = nil
                    } catch {
                        let reason = if case .failed(let reason) = error { reason } else { error.description }
                        failed = "rewriting the file failed: \(reason)"
                    }
                } else {
                    failed = write(batch.bytes, to: descriptor)
                }
                let done = state.withLock { $0.batchFinished(upTo: batch.upTo, error: failed) }
                for (waiter, outcome) in done { waiter.resume(returning: outcome) }
            }
            if state.withLock({ $0.failure != nil }) {
                // Closed or failed: nothing more is written; the file is closed.
                FileDescriptorIO.close(descriptor)
                return
            }
        }
    }

    /// Writes and syncs `bytes`; nil, or what failed.
    private func write(_ bytes: [UInt8], to descriptor: Int32) -> String? {
        if let failure = FileDescriptorIO.writeAll(bytes, to: descriptor) { return failure }
        guard sync(descriptor) == 0 else { return "fsync failed: \(String(cString: strerror(errno)))" }
        return nil
    }
}
