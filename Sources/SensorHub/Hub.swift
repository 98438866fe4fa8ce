import SensorAgent
import ConnectionCore
import Locking
import WebSocketCore
import WebSocketIO
import WebServer
import SensorWire

/// The reference aggregator server: apps and agents connect over WebSocket on one port.
///
/// Apps speak the SensorClient protocol; agents the ``AgentMessage`` protocol; in-process
/// agents (simulations, tests) use ``attachAgent(name:sensors:)``. A subscriber that cannot
/// keep up is handled as ``SubscriberOverflow`` says: by default its readings are dropped once
/// `maxBacklog` bytes wait for its socket.
package final class Hub: Sendable {
    /// The port the hub listens on.
    package let port: Int
    /// What happens, for logging (the newest 10,000 are kept for a slow reader).
    package let events: AsyncStream<HubEvent>
    private let eventsContinuation: AsyncStream<HubEvent>.Continuation
    private let server: HTTPServer
    private let maxBacklog: Int
    private let overflow: SubscriberOverflow
    private let registryFile: String?
    /// Saves the registry file on a thread of its own (nil without a file).
    private let registryWriter: SnapshotFileWriter?
    private let shared: LockedValue<Shared>
    /// Upgrade requests refused before the upgrade (401, 403), for `hub_statistics`.
    private let upgradesRefused: LockedValue<Int>
    /// The hub's clock for command deadlines and rate limits: time since it started.
    private let clock: HubClock
    /// Puts every accepted reading into MetricStore (nil: no history).
    package let history: HistoryRecorder?

    /// The protocol logic and what the I/O layer keeps beside it, under one lock.
    private struct Shared: Sendable {
        var core: HubCore
        var connections: [UInt64: WebSocketConnection] = [:]
        /// Readings dropped per subscriber (for the events, once per 1,000).
        var dropped: [UInt64: Int] = [:]
        /// Times a peer's reading waited for a congested subscriber (backpressure).
        var heldBack = 0
        var lastPeer: UInt64 = 0
        /// `stop()` has begun: connections that register now are closed at once.
        var stopping = false
        /// History reads running, by number, with the peer that asked (cancelled when it
        /// leaves; cancelled and awaited by `stop()`).
        var historyReads: [UInt64: (peer: UInt64, task: Task<Void, Never>)] = [:]
        var lastHistoryRead: UInt64 = 0
        mutating func nextPeer() -> UInt64 { lastPeer += 1; return lastPeer }
    }

    /// Starts a hub on `host`:`port` (0 = a free port; read ``port``).
    /// - Parameters:
    ///   - maxBacklog: bytes that may wait for a slow subscriber before its readings are dropped.
    ///   - maxMessageSize: the largest message accepted from a peer (close 1009 beyond it).
    ///   - overflow: what happens to a subscriber more than `maxBacklog` bytes behind.
    ///   - agentToken: the token agents must present; one without it is closed with 1008
    ///     (sets `access.agentToken`).
    ///   - access: app tokens and their rights, allowed origins, the legacy agent protocol
    ///     (see ``HubAccessPolicy``).
    ///   - limits: what one connection may ask (subscriptions, commands, lists; see ``HubLimits``).
    ///   - commandTimeout: how long an agent has to answer an app's command (then 504).
    ///   - registryFile: where the device registry is written (atomically) after every change;
    ///     nil keeps it in memory. Read it with ``RegistryFile/read(_:)`` for `savedDevices`.
    ///   - savedDevices: devices an earlier hub registered, by agent (disconnected until their
    ///     agents connect).
    ///   - deflate: accept permessage-deflate (RFC 7692) from clients that offer it, on these
    ///     terms; nil (the default) declines every offer.
    ///   - tls: serve TLS (wss:// for apps and agents, https:// for the dashboard) with this
    ///     identity; nil serves plaintext.
    ///   - group: the event loops the hub's connections are spread over (default: one per core).
    ///   - clock: the clock of command deadlines and rate limits; nil (the default) is the
    ///     continuous clock with loop timers (tests pass a manual one).
    ///   - history: records every accepted reading's numbers into MetricStore (nil: none).
    /// - Throws: ``WebSocketError/connectFailed(_:)`` when the port cannot be bound.
    package init(host: String = "127.0.0.1", port: Int = 0, maxBacklog: Int = 1 << 20,
                 maxMessageSize: Int = 1 << 20, overflow: SubscriberOverflow = .dropReadings,
                 agentToken: String? = nil, access: HubAccessPolicy = HubAccessPolicy(), limits: HubLimits = HubLimits(),
                 commandTimeout: Duration = .seconds(10),
                 registryFile: String? = nil,
                 savedDevices: [String: [Device]] = [:], deflate: PerMessageDeflateConfiguration? = nil,
                 tls: TLSServerContext? = nil, group: EventLoopGroup = .shared(loops: EventLoopGroup.defaultServerLoopCount),
                 clock: (any Clock<Duration>)? = nil, history: HistoryRecorder? = nil) throws(WebSocketError) {
        self.clock = clock.map { HubClock.on($0) } ?? .continuous()
        self.history = history
        var policy = access
        if let agentToken {
            precondition(!agentToken.isEmpty, "an empty agent token protects nothing")
            policy.agentToken = agentToken
        }
        let access = policy
        self.registryFile = registryFile
        registryWriter = registryFile.map { path in
            SnapshotFileWriter(name: "SensorStream registry") { bytes in
                do throws(AtomicFile.Failure) {
                    try AtomicFile.write(bytes, to: path)
                    return nil
                } catch {
                    return error.reason
                }
            }
        }
        var core = HubCore(policy: access, limits: limits, commandTimeout: commandTimeout, savedDevices: savedDevices)
        core.recordsReadings = history != nil
        shared = LockedValue(Shared(core: core))
        let configuration = WebSocketConfiguration(limits: .init(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize),
                                                   closeTimeout: .seconds(2), deflate: deflate,
                                                   drainTimeout: WebSocketConfiguration.serverDrainTimeout)
        let (events, eventsContinuation) = AsyncStream.makeStream(of: HubEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        self.events = events
        self.eventsContinuation = eventsContinuation
        // Apps and agents upgrade to WebSocket on any path; a plain GET / gets the dashboard.
        let owner = ListenerOwner<Hub>()
        var routes = HTTPRoutes()
        routes.add("GET", "/") { _ in
            // No other site may frame the page (clickjacking its command boxes).
            HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("X-Frame-Options", "DENY"),
                                                ("Content-Security-Policy", "frame-ancestors 'none'")],
                         body: Array(DashboardPage.html.utf8))
        }
        routes.add("GET", "/access") { request in
            // Whether the page needs a token, and (with `Authorization: Bearer`) whether the one
            // it has is an app token: a failed upgrade does not say why.
            let presented = HubAccessPolicy.bearerToken(request["Authorization"])
            let valid = presented.map { access.appRight(of: $0) != nil }
            return .json(200, #"{"token_required":\#(access.appTokenRequired)"# + (valid.map { #","token_valid":\#($0)}"# } ?? "}"))
        }
        let table = routes
        let secure = tls != nil
        let upgradesRefused = LockedValue(0)
        self.upgradesRefused = upgradesRefused
        do {
            server = try HTTPServer(host: host, port: port, tls: tls, webSocketConfiguration: configuration, group: group, webSocket: { connection, request in
                guard case .admitted(let credential) = access.admit(request.head, target: request.target, secure: secure, boundHost: host) else {
                    connection.abort()
                    return
                }
                // Before the hub is attached (the last step of its init) or after it is gone: refused.
                guard let hub = owner.server else {
                    connection.abort()
                    return
                }
                await hub.serve(connection, credential: credential)
            }, upgradeGate: { request in
                guard case .refused(let status, let reason) = access.admit(request.head, target: request.target, secure: secure, boundHost: host) else {
                    return nil
                }
                upgradesRefused.withLock { $0 += 1 }
                var response = HTTPResponse.text(status, reason)
                if status == 401 { response.headers.append(("WWW-Authenticate", #"Bearer realm="sensorstream""#)) }
                return response
            }, onRejection: { eventsContinuation.yield(.rejected($0)) }, handler: { await table.respond(to: $0) })
        } catch {
            throw .connectFailed(error)
        }
        self.port = server.port
        self.maxBacklog = maxBacklog
        self.overflow = overflow
        owner.attach(self)
    }

    /// A hub the app lets go of finishes its registry writer (what is pending is written).
    deinit {
        registryWriter?.close()
    }

    /// Stops accepting, closes every connection with 1001 (going away) and waits for them, then
    /// the history's last points (see ``HistoryRecorder/stop()``).
    package func stop() async {
        server.stopAccepting()
        // Connections accepted but not yet served see `stopping` when they register.
        let connections = shared.withLock { shared in
            shared.stopping = true
            return Array(shared.connections.values)
        }
        await withDiscardingTaskGroup { group in
            for connection in connections {
                group.addTask { await connection.close(code: .goingAway, reason: "hub shutting down") }
            }
        }
        eventsContinuation.finish()
        // History reads still running are cancelled (their apps are gone) and waited for.
        let reads = shared.withLock { $0.historyReads.values.map(\.task) }
        for read in reads { read.cancel() }
        _ = await waitUntilEnded(reads, atMost: .seconds(2))
        // What the history still holds goes to the store (2 s at most by default).
        await history?.stop()
    }

    /// Drops every connection at once, without a close handshake (for tests and demos of
    /// reconnects).
    package func dropAllConnections() {
        let connections = shared.withLock { Array($0.connections.values) }
        for connection in connections { connection.abort() }
    }

    /// How many times the hub stopped reading a publishing peer until its subscribers caught up
    /// (``SubscriberOverflow/backpressure``).
    package var publishersHeldBack: Int { shared.withLock { $0.heldBack } }

    /// The number of open connections (apps and agents).
    package var connectionCount: Int { shared.withLock { $0.connections.count } }

    /// Whether an agent currently serves `sensorID`.
    package func isConnected(_ sensorID: String) -> Bool { shared.withLock { $0.core.state.isConnected(sensorID) } }

    /// How many app connections subscribe to `sensorID`.
    package func subscriberCount(_ sensorID: String) -> Int { shared.withLock { $0.core.state.subscribers(of: sensorID).count } }

    /// One open connection as statistics and tests see it.
    package struct ConnectionSnapshot: Sendable {
        /// The hub's number for the peer.
        package let peer: UInt64
        /// Whether it announced itself as an agent.
        package let isAgent: Bool
        /// The name of the event loop it runs on.
        package let loop: String
        /// What it holds in memory, and whether it is read.
        package let buffers: StreamConnection.Buffers
    }

    /// Every open connection: its role, loop and buffers.
    package var connectionSnapshots: [ConnectionSnapshot] {
        let connections = shared.withLock { shared in shared.connections.map { ($0.key, shared.core.agents.contains($0.key), $0.value) } }
        return connections.sorted { $0.0 < $1.0 }.map { peer, isAgent, connection in
            ConnectionSnapshot(peer: peer, isAgent: isAgent, loop: connection.core.loop.name, buffers: connection.core.buffers)
        }
    }

    /// History reads running (asked for and not answered yet).
    package var historyReadsRunning: Int { shared.withLock { $0.historyReads.count } }

    /// Readings dropped for slow subscribers since the start.
    package var droppedReadings: Int { shared.withLock { $0.core.counters.dropped } }

    // MARK: Peers

    private func serve(_ connection: WebSocketConnection, credential: HubAccessPolicy.Credential) async {
        let (peer, stopping) = shared.withLock { shared in
            let peer = shared.nextPeer()
            shared.connections[peer] = connection
            shared.core.connected(peer, credential: credential, address: connection.remoteAddress)
            return (peer, shared.stopping)
        }
        if stopping {
            // Accepted just before `stop()`: it closes like every other connection.
            await connection.close(code: .goingAway, reason: "hub shutting down")
        }
        // Messages are handled a batch at a time (what one read brought in): decoded outside
        // the lock, handled by the core in one lock acquisition, and what they cause carried out
        // after it, each recipient's messages written once at the end of the batch.
        while let batch = await connection.receiveBatch() {
            var effects = HubEffects()
            var messages: [HubMessage] = []
            messages.reserveCapacity(batch.count)
            for message in batch {
                guard case .text(let text) = message, let envelope = SensorProtocol.decode(text) else {
                    effects.events.append(.skippedMessage(peer: peer, reason: "not a JSON envelope"))
                    continue
                }
                guard let hubMessage = HubMessage(envelope) else {
                    effects.events.append(.skippedMessage(peer: peer, reason: "unknown event \(envelope.event)"))
                    continue
                }
                messages.append(hubMessage)
            }
            let now = clock.elapsed()
            let refusedUpgrades = upgradesRefused.withLock { $0 }
            let historyLost = history?.counts.lost ?? 0
            shared.withLock { shared in
                shared.core.counters.upgradesRefused = refusedUpgrades
                shared.core.counters.historyDropped = historyLost
                for message in messages where effects.refusal == nil { shared.core.handle(message, from: peer, now: now, into: &effects) }
            }
            if await carryOut(effects, for: peer, on: connection) { break }
        }
        let closure = await connection.closed()
        let (deliveries, reads) = shared.withLock { shared -> ([HubState.Delivery], [Task<Void, Never>]) in
            shared.connections[peer] = nil
            shared.dropped[peer] = nil
            // Its history reads have nobody to answer: cancelled, so they free their places.
            let reads = shared.historyReads.values.filter { $0.peer == peer }.map(\.task)
            return (shared.core.disconnected(peer), reads)
        }
        for read in reads { read.cancel() }
        send(deliveries)
        eventsContinuation.yield(.peerDisconnected(peer: peer, closeCode: Int(closure.code.rawValue),
                                                   reason: closure.error.map { "\($0)" } ?? closure.reason))
    }

    /// Carries out what a batch of `peer`'s messages caused, in ``HubEffects``' order. Returns
    /// true when the connection was refused (closed with 1008).
    private func carryOut(_ effects: HubEffects, for peer: UInt64, on connection: WebSocketConnection) async -> Bool {
        for event in effects.events { eventsContinuation.yield(event) }
        record(effects.accepted)
        // A change is on the disk before it is acknowledged.
        if effects.registryChanged { await saveRegistry() }
        if !effects.replies.isEmpty {
            do {
                try connection.sendNow(texts: effects.replies)
            } catch .outboundFull {
                messagesDropped(effects.replies.count, for: peer, what: "acknowledgements")
            } catch {
                // Closing or failed: this serve loop ends.
            }
        }
        forward(effects.forwards)
        readHistory(effects.historyReads)
        if let refusal = effects.refusal {
            send(effects.deliveries)
            switch refusal {
            case .agentToken(let reason): eventsContinuation.yield(.agentRefused(peer: peer, reason: reason))
            case .violation(let reason), .limit(let reason):
                eventsContinuation.yield(.protocolViolation(peer: peer, address: connection.remoteAddress, reason: reason))
            }
            _ = await connection.close(code: .policyViolation, reason: refusal.reason)
            return true
        }
        // With backpressure, this peer's next messages wait until every subscriber its
        // readings went to is back under the backlog limit.
        let congested = send(effects.deliveries)
        if !congested.isEmpty {
            shared.withLock { $0.heldBack += 1 }
            for subscriber in congested { await subscriber.waitForOutput(below: maxBacklog) }
        }
        return false
    }

    /// Writes commands to their agents' connections and sets a loop timer for each deadline.
    private func forward(_ forwards: [HubEffects.Forward]) {
        guard !forwards.isEmpty else { return }
        let connections = shared.withLock { shared in forwards.map { shared.connections[$0.agent] } }
        for (forward, connection) in zip(forwards, connections) {
            do {
                try connection?.sendNow(text: forward.text)
            } catch .outboundFull {
                // The command times out (504) like one the agent never answered.
                messagesDropped(1, for: forward.agent, what: "commands")
            } catch {
                // Closing or failed: the command times out (504).
            }
            clock.schedule(forward.deadline) { [weak self] in self?.expireCommands() }
        }
    }

    /// Reads each history request from MetricStore on a task of its own and answers its peer
    /// when the store has (the peer's other messages are handled meanwhile).
    private func readHistory(_ reads: [HubEffects.HistoryRead]) {
        guard let history, !reads.isEmpty else { return }
        for read in reads {
            // Made and entered under one lock (making a task only enqueues it), so `stop()`
            // and the peer's end see every read; the task takes its own entry out.
            shared.withLock { state in
                guard !state.stopping else {
                    state.core.historyReadFinished(read.peer)
                    return
                }
                state.lastHistoryRead += 1
                let number = state.lastHistoryRead
                let task = Task { [weak self] in
                    let answer = await history.read(read.query)
                    guard let self else { return }
                    let tracked = shared.withLock { shared in
                        shared.core.historyReadFinished(read.peer)
                        return shared.historyReads.removeValue(forKey: number) != nil
                    }
                    if tracked { send([HubState.Delivery(message: answer, recipients: [read.peer])]) }
                }
                state.historyReads[number] = (read.peer, task)
            }
        }
    }

    /// Saves the registry file (if any) and waits until it is on the disk: the snapshot is
    /// taken and handed to the writer under the state lock (so versions follow the states
    /// they show), the write is made by the writer's thread while this task is suspended.
    private func saveRegistry() async {
        guard let registryWriter, let registryFile else { return }
        let ticket = shared.withLock { registryWriter.enqueue(RegistryFile.encode($0.core.devices.saved)) }
        guard let ticket else { return }
        registryWriter.wake(ticket)
        if let reason = await registryWriter.waitUntilSaved(ticket.version) {
            eventsContinuation.yield(.skippedMessage(peer: 0, reason: "device registry \(registryFile) not saved: \(reason)"))
        }
    }

    /// Answers 504 for every command past its deadline (on the loop, by a timer).
    private func expireCommands() {
        let now = clock.elapsed()
        send(shared.withLock { $0.core.expireCommands(now: now) })
    }

    /// Writes what a batch produced: each message encoded and framed once for all its
    /// recipients, each recipient's messages in as few writes as the socket allows. Readings to
    /// a subscriber whose backlog is full are dropped (and reported once per 1,000), or with
    /// ``SubscriberOverflow/backpressure`` queued anyway and the subscriber returned among
    /// those to wait for; statuses and answers are never refused.
    @discardableResult
    private func send(_ deliveries: [HubState.Delivery]) -> [WebSocketConnection] {
        guard !deliveries.isEmpty else { return [] }
        let runs = FanOutRuns(deliveries)
        let recipients = runs.recipients
        let connections = shared.withLock { shared in
            recipients.compactMap { recipient in shared.connections[recipient.peer].map { (recipient, $0) } }
        }
        let dropsReadings = overflow == .dropReadings
        var congested: [WebSocketConnection] = []
        var delivered = 0
        for (recipient, connection) in connections {
            var queuedReadings = 0
            // Consecutive runs of one kind go out in one send: readings may be refused (in the
            // lock acquisition that would queue them), statuses and answers never are.
            var start = 0
            while start < recipient.runs.count {
                let isReading = runs.runs[recipient.runs[start]].isReading
                var end = start + 1
                while end < recipient.runs.count && runs.runs[recipient.runs[end]].isReading == isReading { end += 1 }
                let groups = recipient.runs[start..<end].map { runs.runs[$0].messages }
                let readings = isReading ? groups.reduce(0) { $0 + $1.texts.count } : 0
                start = end
                do {
                    // Readings: the backlog limit (or none, with backpressure); statuses and
                    // answers: the connection's high-water mark (4 MiB), as a bound.
                    let limit: Int? = isReading ? (dropsReadings ? maxBacklog : Int.max) : nil
                    try connection.sendSoon(encoded: groups, refusingAbove: limit)
                    queuedReadings += readings
                } catch .outboundFull {
                    if isReading {
                        countDropped(readings, for: recipient.peer)
                    } else {
                        messagesDropped(groups.reduce(0) { $0 + $1.texts.count }, for: recipient.peer, what: "status or answer messages")
                    }
                } catch {
                    // Closing or failed: its serve loop ends and cleans up.
                }
            }
            delivered += queuedReadings
            if queuedReadings > 0 && !dropsReadings && connection.pendingOutputBytes > maxBacklog { congested.append(connection) }
        }
        if delivered > 0 { shared.withLock { $0.core.counters.delivered += delivered } }
        return congested
    }

    /// Counts and reports messages other than readings that a connection's full output
    /// refused (past its high-water mark).
    private func messagesDropped(_ count: Int, for peer: UInt64, what: String) {
        shared.withLock { $0.core.counters.messagesDropped += count }
        eventsContinuation.yield(.messagesDropped(peer: peer, count: count, what: what))
    }

    /// Counts readings dropped for a slow subscriber; reported when the count crosses 1,
    /// 1001, 2001 ...
    private func countDropped(_ count: Int, for peer: UInt64) {
        guard count > 0 else { return }
        let (previous, total) = shared.withLock { shared -> (Int, Int) in
            let previous = shared.dropped[peer, default: 0]
            shared.dropped[peer] = previous + count
            shared.core.counters.dropped += count
            return (previous, previous + count)
        }
        if (previous + 999) / 1000 != (total + 999) / 1000 {
            eventsContinuation.yield(.readingsDropped(peer: peer, count: total))
        }
    }

    // MARK: In-process agents

    /// Connects an in-process agent (simulations, tests) serving `sensors`.
    package func attachAgent(name: String, sensors: [String]) -> LocalAgent {
        let peer = shared.withLock { $0.nextPeer() }
        let agent = LocalAgent(hub: self, peer: peer)
        eventsContinuation.yield(.agentConnected(peer: peer, name: name, sensors: sensors))
        send(shared.withLock { $0.core.state.agentConnected(peer, sensors: sensors) })
        return agent
    }

    func localAgent(_ peer: UInt64, _ messages: some Sequence<AgentMessage>) {
        var effects = HubEffects()
        shared.withLock { shared in
            for message in messages { shared.core.handleLocalAgent(message, from: peer, into: &effects) }
        }
        for event in effects.events { eventsContinuation.yield(event) }
        record(effects.accepted)
        send(effects.deliveries)
    }

    /// Hands accepted readings to the history (never waits: see ``HistoryRecorder``).
    private func record(_ accepted: [HubEffects.AcceptedReading]) {
        guard let history, !accepted.isEmpty else { return }
        history.record(accepted, receivedAt: HistoryRecorder.nowMilliseconds())
    }
}
