/// The bookkeeping of a file that many writers append to and wait on until their bytes are on
/// the disk (group commit): bytes in, batches out, one `fsync` for every append that arrived
/// while the previous batch was being written. A plain value: no file, thread or clock, so
/// every rule is testable with byte vectors. ``GroupCommitWriter`` runs it.
///
/// Appends are numbered in the order they arrive, and batches keep that order: the file holds
/// the appends in exactly the order ``append(_:)`` was called. After a failed batch nothing
/// more is accepted (fail-stop): a write or `fsync` that failed may have left anything on the
/// disk, and acknowledging later appends would claim a durability the file no longer has.
package struct GroupCommitState<Waiter: Sendable>: Sendable {
    /// Renders the whole file anew (a compaction's snapshot), on the writer's thread.
    package typealias Render = @Sendable () -> [UInt8]

    /// What the writer does next: append `bytes`, or, with `rewrite`, replace the file with
    /// what `rewrite` renders followed by `bytes`; either way every append up to `upTo` is on
    /// the disk once it is done.
    package struct Batch: Sendable {
        /// Bytes to append (after the rewrite's, if any).
        package let bytes: [UInt8]
        /// The last append the batch covers.
        package let upTo: UInt64
        /// The file's new content, rendered by the writer; nil: append.
        package let rewrite: Render?
    }

    /// Bytes appended and not yet handed to a batch.
    private var pending: [UInt8] = []
    /// A rewrite asked for and not yet handed to a batch.
    private var pendingRewrite: Render?
    /// The number of the last append accepted.
    private(set) var lastAppended: UInt64 = 0
    /// Every append up to this number is on the disk.
    private(set) var durable: UInt64 = 0
    /// A batch is being written: the next waits for it.
    private var writing = false
    /// Set once; from then on everything fails.
    private(set) var failure: GroupCommitFailure?
    private var waiters: [(sequence: UInt64, waiter: Waiter)] = []

    package init() {}

    /// Accepts `bytes` for the file. Returns its sequence number and whether the writer must be
    /// woken (it was idle).
    /// An empty append adds nothing: its number is the last one's, durable with it.
    package mutating func append(_ bytes: [UInt8]) throws(GroupCommitFailure) -> (sequence: UInt64, wake: Bool) {
        if let failure { throw failure }
        if bytes.isEmpty { return (lastAppended, false) }
        pending += bytes
        lastAppended += 1
        return (lastAppended, !writing && pending.count == bytes.count && pendingRewrite == nil)
    }

    /// Registers `waiter` for append `sequence`. Returns it back with its outcome when that is
    /// already known (durable, or failed), to be resumed by the caller after unlocking.
    package mutating func wait(for sequence: UInt64, _ waiter: Waiter) -> (Waiter, Result<Void, GroupCommitFailure>)? {
        if sequence <= durable { return (waiter, .success(())) }
        if let failure { return (waiter, .failure(failure)) }
        waiters.append((sequence, waiter))
        return nil
    }

    /// Replaces the whole file with what `render` makes (a snapshot of everything appended so
    /// far, compacted), counted as an append: the appends not yet written are dropped (the
    /// snapshot holds them), later ones follow it. The writer renders it, writes it to a new
    /// file and puts that in the old one's place. Returns its sequence number and whether the
    /// writer must be woken.
    package mutating func rewrite(_ render: @escaping Render) throws(GroupCommitFailure) -> (sequence: UInt64, wake: Bool) {
        if let failure { throw failure }
        let idle = !writing && pending.isEmpty && pendingRewrite == nil
        pending = []
        pendingRewrite = render
        lastAppended += 1
        return (lastAppended, idle)
    }

    /// The next batch for the writer: a pending rewrite and every pending byte, and the last
    /// sequence number it covers; nil when nothing is pending, a batch is already out, or the
    /// file failed.
    package mutating func takeBatch() -> Batch? {
        guard !writing, failure == nil, !pending.isEmpty || pendingRewrite != nil else { return nil }
        writing = true
        defer {
            pending = []
            pendingRewrite = nil
        }
        return Batch(bytes: pending, upTo: lastAppended, rewrite: pendingRewrite)
    }

    /// The writer wrote (and synced) the batch up to `upTo`, or failed with `error`. Returns
    /// the waiters to resume, with their outcome.
    package mutating func batchFinished(upTo: UInt64, error: String?) -> [(Waiter, Result<Void, GroupCommitFailure>)] {
        precondition(writing, "Internal inconsistency: a batch finished that was never taken")
        writing = false
        if let error {
            let failure = GroupCommitFailure.failed(error)
            self.failure = failure
            pending = []
            pendingRewrite = nil
            defer { waiters.removeAll() }
            return waiters.map { ($0.waiter, .failure(failure)) }
        }
        durable = upTo
        var done: [(Waiter, Result<Void, GroupCommitFailure>)] = []
        waiters.removeAll { entry in
            guard entry.sequence <= upTo else { return false }
            done.append((entry.waiter, .success(())))
            return true
        }
        return done
    }

    /// Refuses everything from now on; returns the waiters to fail.
    package mutating func close() -> [(Waiter, Result<Void, GroupCommitFailure>)] {
        if failure == nil { failure = .closed }
        let failure = self.failure ?? .closed
        defer { waiters.removeAll() }
        return waiters.map { ($0.waiter, .failure(failure)) }
    }

    /// Whether a batch would be ready for the writer now.
    package var hasBatch: Bool { !writing && failure == nil && (!pending.isEmpty || pendingRewrite != nil) }
}

/// Why a group-committed append was refused or not made durable.
package enum GroupCommitFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// A write or `fsync` failed; every append since, and every later one, fails too.
    case failed(String)
    /// The writer was closed.
    case closed

    /// What failed, for logs.
    package var description: String {
        switch self {
        case .failed(let reason): "the journal failed: \(reason)"
        case .closed: "the journal is closed"
        }
    }
}
