/// The bookkeeping of a file replaced whole by its newest snapshot (a registry saved after
/// every change): snapshots in, the newest one out to the writer, waiters answered when a
/// snapshot at least as new as theirs is on the disk. Snapshots the writer never took are
/// skipped (a newer one replaces them, and saving it saves their content too). A plain value:
/// ``SnapshotFileWriter`` runs it.
package struct SnapshotWriteState<Waiter: Sendable>: Sendable {
    /// The newest snapshot not yet taken, and its version.
    private var pending: (bytes: [UInt8], version: UInt64)?
    /// The version of the last snapshot handed out.
    private(set) var lastVersion: UInt64 = 0
    /// Every version up to this one is on the disk (or was superseded by one that is).
    private(set) var savedVersion: UInt64 = 0
    /// A snapshot is being written.
    private var writing = false
    private var waiters: [(version: UInt64, waiter: Waiter)] = []
    private var closed = false

    package init() {}

    /// Takes a new snapshot. Returns its version and whether the writer must be woken (it was
    /// idle and had nothing pending); nil once closed.
    package mutating func save(_ bytes: [UInt8]) -> (version: UInt64, wake: Bool)? {
        guard !closed else { return nil }
        lastVersion += 1
        let wake = !writing && pending == nil
        pending = (bytes, lastVersion)
        return (lastVersion, wake)
    }

    /// Registers `waiter` for `version`; returns it with its outcome when that is known.
    package mutating func wait(for version: UInt64, _ waiter: Waiter) -> (Waiter, String?)? {
        if version <= savedVersion { return (waiter, nil) }
        if closed { return (waiter, "the file writer is closed") }
        waiters.append((version, waiter))
        return nil
    }

    /// The snapshot to write next: the newest pending one; nil when none is pending or one
    /// is being written.
    package mutating func take() -> (bytes: [UInt8], version: UInt64)? {
        guard !writing, let next = pending else { return nil }
        writing = true
        pending = nil
        return next
    }

    /// The writer is back with `version` written, or `error`. Returns the waiters to answer
    /// (nil: saved; else why not). A failed snapshot fails the waiters up to it; a later
    /// snapshot may still succeed.
    package mutating func finished(version: UInt64, error: String?) -> [(Waiter, String?)] {
        precondition(writing, "Internal inconsistency: a snapshot finished that was never taken")
        writing = false
        if error == nil { savedVersion = max(savedVersion, version) }
        var done: [(Waiter, String?)] = []
        waiters.removeAll { entry in
            guard entry.version <= version else { return false }
            done.append((entry.waiter, error))
            return true
        }
        return done
    }

    /// Refuses new snapshots; what is pending is still written. Returns whether the writer
    /// must be woken to finish.
    package mutating func close() -> Bool {
        closed = true
        return !writing
    }

    /// Whether the writer is done for good: closed, nothing pending or being written.
    package var isFinished: Bool { closed && pending == nil && !writing }

    /// Fails every waiter left (the writer is gone).
    package mutating func failRemaining() -> [(Waiter, String?)] {
        defer { waiters.removeAll() }
        return waiters.map { ($0.waiter, "the file writer is closed") }
    }
}
