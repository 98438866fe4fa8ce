import ConnectionCore
import Foundation
import Locking

/// A metric store server: many clients at once over TCP, spread over a group of event loops
/// (one per core by default), all sharing one ``MetricStorage``; optionally durable (see
/// ``Configuration/dataFile``).
///
/// ```swift
/// let server = try MetricStoreServer(port: 8888)
/// try await server.run()   // until the task is cancelled, or stop()
/// ```
///
/// One slow or malicious client never stalls the others: a client's answers wait in its own
/// bounded output, a large `get` answer is produced in pieces as the client reads it, and
/// while more than ``Configuration/outputLimit`` bytes wait its commands are no longer read
/// (TCP holds it back) until half of them are gone; a client that reads nothing for
/// ``Configuration/drainTimeout`` is dropped. A line over ``Configuration/maxLineLength`` bytes gets
/// `error\nwrong command\n\n` and the connection is closed.
public final class MetricStoreServer: Sendable {
    /// The server's limits and durability.
    public struct Configuration: Sendable {
        /// Where accepted puts are journaled (appended and fsync'ed before their `ok`), and
        /// replayed from on start. nil: in memory only. Default nil.
        public var dataFile: String?
        /// Connections served at once; the next one is accepted and closed at once. Default 1024.
        public var maxConnections: Int
        /// The longest command line, newline excluded. Default 65,536.
        public var maxLineLength: Int
        /// Answer bytes that may wait for a client before its commands stop being read. Default 1 MiB.
        public var outputLimit: Int
        /// Serve TLS with this identity (needs the package trait `TLS`). Default nil: plaintext.
        public var tls: TLSServerConfiguration?
        /// The event loops (threads) connections are spread over, each pinned to one. Default
        /// nil: one per active core.
        public var loops: Int?
        /// A client that sends and receives nothing for this long is disconnected, so silent
        /// peers cannot hold ``maxConnections`` forever; nil: never. Default 300 s.
        public var idleTimeout: Duration?
        /// A client whose answers wait without one byte taken for this long (it stopped
        /// reading) is disconnected; nil: never. Default 60 s.
        public var drainTimeout: Duration?
        /// How long points are kept: older ones (by their timestamp, against the server's
        /// clock) are dropped at start, before the data file is compacted, and then every
        /// minute (every tenth of the retention when that is shorter, at least every second).
        /// nil: keep everything. Default nil.
        public var retention: Duration?
        /// The data file is compacted while the server runs (rewritten from a snapshot of the
        /// store, by the journal's writer thread) once it holds more than twice as many lines
        /// as the store has points, plus this many: overwritten and expired points leave the
        /// file too. Each compaction writes the whole file while the puts of every connection
        /// wait for it (their group commit follows it). At least 0; `Int.max` never compacts
        /// while running. Default 65,536.
        public var compactionSlack: Int = 65_536

        /// A configuration; every parameter left out keeps its default.
        /// - Parameters:
        ///   - dataFile: See ``dataFile``.
        ///   - maxConnections: See ``maxConnections``.
        ///   - maxLineLength: See ``maxLineLength``.
        ///   - outputLimit: See ``outputLimit``.
        ///   - tls: See ``tls``.
        ///   - loops: See ``loops``.
        ///   - idleTimeout: See ``idleTimeout``.
        ///   - drainTimeout: See ``drainTimeout``.
        ///   - retention: See ``retention``.
        public init(dataFile: String? = nil, maxConnections: Int = 1024, maxLineLength: Int = 65_536, outputLimit: Int = 1 << 20,
                    tls: TLSServerConfiguration? = nil, loops: Int? = nil, idleTimeout: Duration? = .seconds(300),
                    drainTimeout: Duration? = .seconds(60), retention: Duration? = nil) {
            self.retention = retention
            self.idleTimeout = idleTimeout
            self.drainTimeout = drainTimeout
            self.loops = loops
            self.tls = tls
            self.dataFile = dataFile
            self.maxConnections = maxConnections
            self.maxLineLength = maxLineLength
            self.outputLimit = outputLimit
        }
    }

    /// The port the server listens on (the one asked for, or the free one picked for 0).
    public let port: Int
    /// The configuration it runs with.
    public let configuration: Configuration
    /// What replaying the data file found worth telling (a torn last line ignored ...), for
    /// the application to log.
    public let startupNotes: [String]

    private struct Shared: Sendable {
        var storage = MetricStorage()
        var connections = 0
        var open: [ObjectIdentifier: StreamConnection] = [:]
        /// Put lines in the data file (what it was compacted to, and appends since).
        var journalLines = 0
        /// The data file was compacted while running, so many times (statistics, tests).
        var compactions = 0

        /// Compacts the journal when it has grown past the configuration's bound; call it in
        /// the lock acquisition that appended to it (the snapshot is this state). Returns the
        /// compaction's ticket (wake the writer with it after unlocking).
        mutating func compactIfDue(_ journal: MetricJournal, slack: Int) throws(GroupCommitFailure) -> GroupCommitWriter.Ticket? {
            // Saturating: a slack of Int.max never compacts, and never overflows.
            let (doubled, overflowDoubling) = storage.pointCount.multipliedReportingOverflow(by: 2)
            let (bound, overflowAdding) = doubled.addingReportingOverflow(slack)
            guard !overflowDoubling, !overflowAdding, journalLines > bound else { return nil }
            let ticket = try journal.compact(storage)
            journalLines = storage.pointCount
            compactions += 1
            return ticket
        }
    }

    private let shared: LockedValue<Shared>
    private let journal: MetricJournal?
    private let listener: StreamListener
    private let stopped = StopLatch()
    /// The server's clock in unix seconds (retention compares timestamps with it).
    private let now: @Sendable () -> Int64
    /// Drops expired points while the server runs (nil without retention).
    private let sweeper = LockedValue<Task<Void, Never>?>(nil)

    /// Starts listening at once (so ``port`` is known) and serves clients until ``stop()``.
    /// - Parameters:
    ///   - host: The address to listen on. Default 127.0.0.1.
    ///   - port: The port; 0 picks a free one. Default 8888.
    ///   - configuration: Limits and durability.
    /// - Throws: ``MetricStoreServerError`` when the port cannot be bound or the data file
    ///   cannot be opened.
    public convenience init(host: String = "127.0.0.1", port: Int = 8888, configuration: Configuration = .init()) throws(MetricStoreServerError) {
        try self.init(host: host, port: port, configuration: configuration, now: { Int64(Date().timeIntervalSince1970) })
    }

    /// A server on an injected clock (tests of retention).
    /// - Parameter now: The current time in unix seconds.
    package init(host: String = "127.0.0.1", port: Int = 8888, configuration: Configuration = .init(),
                 now: @escaping @Sendable () -> Int64) throws(MetricStoreServerError) {
        if let retention = configuration.retention, retention <= .zero {
            throw .invalidConfiguration("retention \(retention) keeps nothing (nil keeps everything)")
        }
        if configuration.compactionSlack < 0 {
            throw .invalidConfiguration("compactionSlack \(configuration.compactionSlack) is below 0 (Int.max never compacts while running)")
        }
        self.configuration = configuration
        self.now = now
        var storage = MetricStorage()
        let horizon = configuration.retention.map { Self.horizon(now: now(), retention: $0) }
        if let path = configuration.dataFile {
            do {
                let (journal, replayed, notes) = try MetricJournal.open(path: path, keepingFrom: horizon)
                storage = replayed
                self.journal = journal
                startupNotes = notes
            } catch {
                throw .dataFile(path: path, reason: "\(error)")
            }
        } else {
            journal = nil
            startupNotes = []
        }
        if let horizon { storage.removePoints(before: horizon) }
        shared = LockedValue(Shared(storage: storage, journalLines: storage.pointCount))
        let maxLineLength = configuration.maxLineLength
        let tls: TLSServerContext?
        do throws(TLSError) { tls = try TLSServerContext.loading(configuration.tls) } catch { throw .tls(error) }
        let owner = ListenerOwner<MetricStoreServer>()
        do {
            listener = try StreamListener(
                host: host, port: port, group: .shared(loops: configuration.loops ?? EventLoopGroup.defaultServerLoopCount),
                configuration: ConnectionConfiguration(inboundBufferLimit: 1 << 20, outboundHighWater: configuration.outputLimit,
                                                       idleTimeout: configuration.idleTimeout, drainTimeout: configuration.drainTimeout),
                handshakeTimeout: .seconds(10), tls: tls,
                makeConnection: { (MetricServerCodec(maxLineLength: maxLineLength), nil) },
                onConnection: owner.forward { server, connection in server.accept(connection) },
                onRejection: { _ in })
        } catch {
            throw .listen(host: host, port: port, reason: "\(error)")
        }
        self.port = listener.port
        owner.attach(self)
        if let retention = configuration.retention { startSweeping(every: Self.sweepInterval(retention: retention)) }
    }

    /// A server the app lets go of stops listening and closes its journal.
    deinit {
        listener.stop()
        sweeper.withLock { $0 }?.cancel()
        journal?.shutDown()
    }

    // MARK: Retention

    /// The oldest second kept with `retention` at `now` (saturating: a retention longer than
    /// the clock's past keeps everything).
    package static func horizon(now: Int64, retention: Duration) -> Int64 {
        let seconds = retention.components.seconds
        let (horizon, overflow) = now.subtractingReportingOverflow(seconds)
        return overflow ? .min : horizon
    }

    /// How often expired points are dropped: every minute, or every tenth of a shorter
    /// retention, at least every second.
    package static func sweepInterval(retention: Duration) -> Duration {
        min(.seconds(60), max(.seconds(1), retention / 10))
    }

    /// Drops the points older than the retention now (the sweep's work; tests call it on
    /// their own clock). They leave the data file with its next compaction (at start, or once
    /// enough of the file is dead: ``Configuration/compactionSlack``).
    /// - Returns: How many points were dropped (0 without retention).
    @discardableResult
    package func removeExpiredPoints() -> Int {
        guard let retention = configuration.retention else { return 0 }
        let horizon = Self.horizon(now: now(), retention: retention)
        let (removed, compaction) = shared.withLock { shared -> (Int, GroupCommitWriter.Ticket?) in
            let removed = shared.storage.removePoints(before: horizon)
            // Expired points leave the file too, once enough of it is dead.
            guard let journal, removed > 0 else { return (removed, nil) }
            return (removed, try? shared.compactIfDue(journal, slack: configuration.compactionSlack))
        }
        if let compaction { journal?.wake(compaction) }
        return removed
    }

    /// How many times the data file was compacted while the server ran.
    package var compactionCount: Int { shared.withLock { $0.compactions } }

    private func startSweeping(every interval: Duration) {
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, !self.stopped.isStopped else { return }
                self.removeExpiredPoints()
            }
        }
        sweeper.withLock { $0 = task }
    }

    /// Serves until the calling task is cancelled or ``stop()`` is called.
    public func run() async {
        await stopped.wait { self.stop() }
    }

    /// Stops listening and closes every open connection: what was already answered is written,
    /// then a FIN; nothing more is read. (It used to leave open connections served, so a client
    /// of a stopped in-process server went on storing into it.)
    public func stop() {
        stopped.stop {
            listener.stop()
            sweeper.withLock { $0 }?.cancel()
            let open = shared.withLock { Array($0.open.values) }
            for connection in open { connection.startClosing("server stopped") }
        }
    }

    /// How many points the store holds.
    public var pointCount: Int { shared.withLock { $0.storage.pointCount } }

    /// How many keys (metrics) the store holds.
    public var keyCount: Int { shared.withLock { $0.storage.keys.count } }

    /// How many clients are connected.
    public var connectionCount: Int { shared.withLock { $0.connections } }

    /// Each connected client's buffers (output waiting, commands buffered, whether it is
    /// read), for statistics and tests.
    package var connectionBuffers: [StreamConnection.Buffers] {
        shared.withLock { Array($0.open.values) }.map(\.buffers)
    }

    private func accept(_ connection: StreamConnection) {
        let admitted = shared.withLock { shared -> Bool in
            guard !stopped.isStopped, shared.connections < configuration.maxConnections, journal?.hasFailed != true else { return false }
            shared.connections += 1
            shared.open[ObjectIdentifier(connection)] = connection
            return true
        }
        guard admitted else {
            connection.abort()
            return
        }
        Task { await serve(connection) }
    }

    /// Records of a `get` answer produced under one acquisition of the store's lock (at most
    /// ``bytesPerSend`` bytes of them, whatever the keys' length).
    package static let recordsPerPiece = 1024
    /// Answer bytes gathered before they are handed to the connection (which waits while more
    /// than ``Configuration/outputLimit`` bytes are unsent).
    package static let bytesPerSend = 64 << 10

    /// Answers one client's commands in order. Puts and wrong lines are applied a run at a
    /// time under one lock acquisition; a `get` answer is produced in pieces of
    /// ``recordsPerPiece`` records, each handed to the connection as it drains, so a client
    /// that asks for much and reads slowly holds at most the output limit plus one piece
    /// (and, while its output is past the limit, is no longer read). Puts are journaled (one
    /// fsync per send) before their answers go out.
    private func serve(_ stream: StreamConnection) async {
        let connection = CodecConnection<MetricServerCodec>(stream)
        defer {
            shared.withLock { shared in
                shared.connections -= 1
                shared.open[ObjectIdentifier(stream)] = nil
            }
        }
        var output: [UInt8] = []
        /// The last journal append whose puts are answered in `output`.
        var journaled: UInt64?
        var closeAfter = false

        /// Waits until the puts answered so far are on the disk, then hands their answers (and
        /// everything before them) to the connection. False when the connection is gone or the
        /// journal failed.
        func emit() async -> Bool {
            if let journal, let sequence = journaled {
                guard case .success = await journal.waitUntilDurable(sequence) else {
                    // Not durable: acknowledge nothing, and stop (fail-stop).
                    stream.abort()
                    return false
                }
                journaled = nil
            }
            guard !output.isEmpty else { return true }
            defer { output = [] }
            do {
                try await connection.send(output)
                return true
            } catch {
                return false
            }
        }

        receiving: while !closeAfter, let batch = await connection.receiveBatch() {
            var lines: [MetricLineParser.Line] = []
            for item in batch { if case .message(let part) = item { lines += part } }
            if lines.contains(.tooLong) { closeAfter = true }
            var index = 0
            while index < lines.count {
                // A run of lines under one lock acquisition, up to a get whose answer needs more
                // than one piece.
                var ticket: GroupCommitWriter.Ticket?
                var compaction: GroupCommitWriter.Ticket?
                var journalFailed = false
                let unfinished = shared.withLock { shared -> (read: RangeRead, cursor: MetricGetCursor)? in
                    var puts: [MetricCommand] = []
                    // The puts go to the journal in this same lock acquisition: the file keeps
                    // the order in which the store applied them, across connections.
                    defer {
                        if let journal, !puts.isEmpty {
                            do {
                                ticket = try journal.append(puts)
                                shared.journalLines += puts.count
                                compaction = try shared.compactIfDue(journal, slack: configuration.compactionSlack)
                            } catch {
                                journalFailed = true
                            }
                        }
                    }
                    while index < lines.count {
                        let line = lines[index]
                        index += 1
                        guard let read = RangeRead(line) else {
                            if case .command(let command) = line, case .put = command { puts.append(command) }
                            shared.storage.answer(line).append(to: &output)
                            continue
                        }
                        output.append(contentsOf: "ok\n".utf8)
                        let piece = shared.storage.appendRecords(of: read.key, between: read.from, and: read.to, after: MetricGetCursor(),
                                                                 limit: Self.recordsPerPiece, byteLimit: Self.bytesPerSend, to: &output)
                        if let next = piece.next { return (read, next) }
                        output.append(UInt8(ascii: "\n"))
                        if output.count >= Self.bytesPerSend { return nil }
                    }
                    return nil
                }
                if journalFailed {
                    stream.abort()
                    break receiving
                }
                if let ticket {
                    journal?.wake(ticket)
                    journaled = ticket.sequence
                }
                if let compaction { journal?.wake(compaction) }
                if let (read, start) = unfinished {
                    var cursor = start
                    // The rest of a large answer, a piece per lock acquisition, sent as the
                    // client drains it; other tasks run between pieces.
                    while true {
                        if output.count >= Self.bytesPerSend {
                            guard await emit() else { break receiving }
                        }
                        await Task.yield()
                        let piece = shared.withLock { $0.storage.appendRecords(of: read.key, between: read.from, and: read.to, after: cursor,
                                                                                    limit: Self.recordsPerPiece, byteLimit: Self.bytesPerSend,
                                                                                    to: &output) }
                        guard let next = piece.next else { break }
                        cursor = next
                    }
                    output.append(UInt8(ascii: "\n"))
                }
                if output.count >= Self.bytesPerSend {
                    guard await emit() else { break receiving }
                }
            }
            guard await emit() else { break }
        }
        _ = await stream.close("done")
    }
}

/// A `get` as the server answers it in pieces: its key and its range (the whole history for
/// `get <key>`).
private struct RangeRead {
    let key: String
    let from: Int64
    let to: Int64

    /// The read a line asks for; nil for anything but a `get`.
    init?(_ line: MetricLineParser.Line) {
        switch line {
        case .command(.get(let key)): (self.key, from, to) = (key, .min, .max)
        case .command(.getRange(let key, let from, let to)): (self.key, self.from, self.to) = (key, from, to)
        default: return nil
        }
    }
}

/// Why a ``MetricStoreServer`` could not start.
public enum MetricStoreServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The address could not be bound (in use, not local ...).
    case listen(host: String, port: Int, reason: String)
    /// The data file could not be opened, read or created.
    case dataFile(path: String, reason: String)
    /// The TLS identity could not be used (or this build has no TLS).
    case tls(TLSError)
    /// A configuration value that cannot work (a retention of zero or less).
    case invalidConfiguration(String)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .listen(let host, let port, let reason): "cannot listen on \(host):\(port): \(reason)"
        case .dataFile(let path, let reason): "data file \(path): \(reason)"
        case .tls(let error): error.description
        case .invalidConfiguration(let reason): "invalid configuration: \(reason)"
        }
    }
}
