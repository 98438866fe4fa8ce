#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConnectionCore
import Locking

/// The durable side of a ``MetricStoreServer``: every accepted put appended, as its command
/// line, to a file, and flushed to the disk (`fsync`) before its `ok` goes out.
///
/// Appends are made in the same lock acquisition that applies the puts to the store (they take
/// only the writer's lock and make no system call), so the file holds the puts in the order
/// the store applied them, across connections. A thread of its own writes and syncs them
/// (``GroupCommitWriter``): one `fsync` covers every put that arrived while the previous one
/// ran, and no event loop or cooperative-pool thread waits for the disk. After a failed write
/// or `fsync` nothing more is acknowledged (fail-stop).
///
/// On start the file is replayed (keys keep their first-put order; a torn last line, written
/// only in part when the process died, is ignored and reported), points older than the
/// retention are dropped, and the file is compacted: rewritten with one line per stored point,
/// through a temporary file renamed over it. While the server runs, ``compact(_:)`` does the
/// same from a snapshot of the store (the writer renders and writes it; appends made after it
/// follow it in the new file).
final class MetricJournal: Sendable {
    /// Why the journal could not be used.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let writer: GroupCommitWriter

    private init(descriptor: Int32, path: String) {
        writer = GroupCommitWriter(descriptor: descriptor, name: "MetricStore journal", replace: { (bytes) throws(GroupCommitFailure) in
            do throws(Failure) {
                return try Self.replace(path, with: bytes)
            } catch {
                throw .failed(error.description)
            }
        })
    }

    deinit {
        writer.close()
    }

    /// Replays and compacts `path` (created if missing) and opens it for appending.
    /// - Parameters:
    ///   - path: The journal file.
    ///   - horizon: With retention, the oldest second kept: older points are dropped before
    ///     the file is compacted, so they leave the file too.
    /// - Returns: The journal, the store it held, and notes worth logging (a torn last line).
    static func open(path: String, keepingFrom horizon: Int64? = nil) throws(Failure) -> (MetricJournal, MetricStorage, [String]) {
        var notes: [String] = []
        let bytes = try readAll(path)
        var storage = MetricStorage()
        var parser = MetricLineParser(maxLineLength: 1 << 20)
        var lines: [MetricLineParser.Line] = []
        let complete = bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        if complete < bytes.count {
            notes.append("\(path): ignored a torn last line of \(bytes.count - complete) bytes")
        }
        bytes[..<complete].withUnsafeBytes { parser.parse($0, into: &lines) }
        for line in lines {
            if case .command(.put(let key, let value, let timestamp)) = line {
                storage.put(key, value, timestamp: timestamp)
            } else {
                notes.append("\(path): ignored a line that is not a put")
            }
        }
        if let horizon {
            let dropped = storage.removePoints(before: horizon)
            if dropped > 0 { notes.append("\(path): dropped \(dropped) \(dropped == 1 ? "point" : "points") older than the retention") }
        }
        let descriptor = try replace(path, with: render(storage))
        return (MetricJournal(descriptor: descriptor, path: path), storage, notes)
    }

    /// The journal of `storage` compacted: one put line per point, keys in first-put order.
    static func render(_ storage: MetricStorage) -> [UInt8] {
        var bytes: [UInt8] = []
        for record in storage.get("*") {
            MetricCommand.put(key: record.key, value: record.point.value, timestamp: Int64(record.point.timestamp)).append(to: &bytes)
        }
        return bytes
    }

    /// Compacts the file while the server runs: its content becomes `snapshot` (the store as
    /// it is now, so call it in the lock acquisition that orders ``append(_:)``s), followed by
    /// what is appended afterwards. The writer renders and writes it; wake it with the ticket.
    /// - Throws: ``GroupCommitFailure`` once the journal failed.
    func compact(_ snapshot: MetricStorage) throws(GroupCommitFailure) -> GroupCommitWriter.Ticket {
        // The snapshot is let go of as soon as it is rendered: while it lives, every change of
        // the store copies what it touches (copy on write), and the file takes a while to write.
        let held = LockedValue<MetricStorage?>(snapshot)
        return try writer.rewrite { held.withLock { $0.take() }.map(Self.render) ?? [] }
    }

    /// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
    /// opens that for appending.
    private static func replace(_ path: String, with bytes: [UInt8]) throws(Failure) -> Int32 {
        let temporary = path + ".compacting"
        try write(bytes, to: temporary)
        guard rename(temporary, path) == 0 else { throw Failure(description: "cannot rename \(temporary): \(errnoText())") }
        // The rename is durable only once the directory is: until then a power loss could
        // bring back the old file, without what is acknowledged after this.
        try syncDirectory(of: path)
        let descriptor = FileDescriptorIO.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(path): \(errnoText())") }
        return descriptor
    }

    /// Syncs the directory that holds `path` (its entries: a rename).
    private static func syncDirectory(of path: String) throws(Failure) {
        let directory = path.lastIndex(of: "/").map { index in index == path.startIndex ? "/" : String(path[..<index]) } ?? "."
        let descriptor = FileDescriptorIO.open(directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(description: "cannot open the directory \(directory): \(errnoText())") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(description: "fsync of the directory \(directory) failed: \(errnoText())") }
    }

    /// Accepts the puts' lines after every put appended before (call it in the lock
    /// acquisition that applies them); then ``wake(_:)`` once unlocked, and wait with
    /// ``waitUntilDurable(_:)`` before acknowledging them.
    /// - Throws: ``GroupCommitFailure`` once the journal failed (nothing may be acknowledged).
    func append(_ puts: [MetricCommand]) throws(GroupCommitFailure) -> GroupCommitWriter.Ticket {
        var bytes: [UInt8] = []
        for put in puts { put.append(to: &bytes) }
        return try writer.append(bytes)
    }

    /// Starts the writer for `ticket` if it was idle.
    func wake(_ ticket: GroupCommitWriter.Ticket) { writer.wake(ticket) }

    /// Waits until append `sequence` and every one before it are on the disk.
    func waitUntilDurable(_ sequence: UInt64) async -> Result<Void, GroupCommitFailure> {
        await writer.waitUntilDurable(sequence)
    }

    /// Whether a write or `fsync` failed: the server acknowledges nothing more.
    var hasFailed: Bool { writer.hasFailed }

    /// Stops the writer (it closes the file once idle).
    func shutDown() { writer.close() }

    private static func readAll(_ path: String) throws(Failure) -> [UInt8] {
        let descriptor = FileDescriptorIO.open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(path): \(errnoText())") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw Failure(description: "cannot read \(path): \(errnoText())") }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        let descriptor = FileDescriptorIO.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(description: "cannot create \(path): \(errnoText())") }
        defer { close(descriptor) }
        try writeAll(bytes, to: descriptor)
        guard fsync(descriptor) == 0 else { throw Failure(description: "fsync failed: \(errnoText())") }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) throws(Failure) {
        if let failure = FileDescriptorIO.writeAll(bytes, to: descriptor) { throw Failure(description: failure) }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
