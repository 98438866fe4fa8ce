import SensorAgent
import ConnectionCore
import Locking
import SensorStream
import WebSocketCore
import WebSocketIO
import WebServer
import SensorWire

/// Something the hub did or saw, for logs and tests.
package enum HubEvent: Sendable, Hashable, CustomStringConvertible {
    case appConnected(peer: UInt64, address: String)
    case appMessage(peer: UInt64, ClientMessage)
    case agentConnected(peer: UInt64, name: String, sensors: [String])
    case peerDisconnected(peer: UInt64, closeCode: Int, reason: String)
    /// A message that is not JSON, not an envelope, or an unknown event: skipped.
    case skippedMessage(peer: UInt64, reason: String)
    /// A subscriber's backlog was full: readings for it were dropped.
    case readingsDropped(peer: UInt64, count: Int)
    /// A peer that never became a connection (bad handshake ...).
    case rejected(String)
    /// An agent refused (a wrong token), closed with 1008.
    case agentRefused(peer: UInt64, reason: String)
    /// A message its connection may not send (the other role's, a claim on another agent's
    /// sensor ...): closed with 1008, nothing of it applied.
    case protocolViolation(peer: UInt64, reason: String)

    package var description: String {
        switch self {
        case .appConnected(let peer, let address): "app #\(peer) connected from \(address)"
        case .appMessage(let peer, let message): "app #\(peer): \(SensorProtocol.encode(message.envelope))"
        case .agentConnected(let peer, let name, let sensors): "agent #\(peer) \(name) connected with \(sensors.count) sensors: \(sensors.joined(separator: ", "))"
        case .peerDisconnected(let peer, let code, let reason): "#\(peer) disconnected (close \(code)\(reason.isEmpty ? "" : ": \(reason)"))"
        case .skippedMessage(let peer, let reason): "#\(peer): skipped message: \(reason)"
        case .readingsDropped(let peer, let count): "#\(peer): subscriber too slow, dropped \(count) readings"
        case .rejected(let what): "rejected: \(what)"
        case .agentRefused(let peer, let reason): "agent #\(peer) refused (close 1008): \(reason)"
        case .protocolViolation(let peer, let reason): "#\(peer) closed (1008): \(reason)"
        }
    }
}

/// What the hub does when a subscriber cannot keep up (more than `maxBacklog` bytes wait for
/// its socket).
package enum SubscriberOverflow: Sendable, Hashable {
    /// Drop readings for that subscriber (reported as ``HubEvent/readingsDropped(peer:count:)``):
    /// it never grows the hub's memory and never slows anyone else. The default.
    case dropReadings
    /// Drop nothing: stop reading from the agents whose readings it is behind on until it
    /// catches up, so TCP slows those agents down. The cost: one stalled subscriber stalls
    /// every agent publishing to it, and so every other subscriber of those agents' sensors.
    /// In-process agents (``attachAgent(name:sensors:)``) are not held back.
    case backpressure
}

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
    /// Tokens, origins, the legacy protocol.
    private let access: HubAccessPolicy
    /// What one connection may ask.
    private let limits: HubLimits
    private let registryFile: String?
    /// Saves the registry file on a thread of its own (nil without a file).
    private let registryWriter: SnapshotFileWriter?
    private let shared: LockedValue<Shared>
    /// The hub's clock for command deadlines: time since it started.
    private let started = ContinuousClock.now

    private struct Shared: Sendable {
        var state = HubState()
        var devices = DeviceRegistry()
        var commands: CommandRouter
        var connections: [UInt64: WebSocketConnection] = [:]
        var agents: Set<UInt64> = []
        var dropped: [UInt64: Int] = [:]
        /// Readings dropped for slow subscribers since the start, and readings delivered.
        var droppedTotal = 0
        var delivered = 0
        /// Times a peer's reading waited for a congested subscriber (backpressure).
        var heldBack = 0
        /// Connections closed for a protocol violation, and commands refused for want of a right.
        var violations = 0
        var forbidden = 0
        /// Requests refused for a per-connection limit (429 answers and 1008 closes).
        var limitsExceeded = 0
        var lastPeer: UInt64 = 0
        /// `stop()` has begun: connections that register now are closed at once.
        var stopping = false
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
    /// - Throws: ``WebSocketError/connectFailed(_:)`` when the port cannot be bound.
    package init(host: String = "127.0.0.1", port: Int = 0, maxBacklog: Int = 1 << 20,
                 maxMessageSize: Int = 1 << 20, overflow: SubscriberOverflow = .dropReadings,
                 agentToken: String? = nil, access: HubAccessPolicy = HubAccessPolicy(), limits: HubLimits = HubLimits(),
                 commandTimeout: Duration = .seconds(10),
                 registryFile: String? = nil,
                 savedDevices: [String: [Device]] = [:], deflate: PerMessageDeflateConfiguration? = nil,
                 tls: TLSServerContext? = nil, group: EventLoopGroup = .shared(loops: EventLoopGroup.defaultServerLoopCount)) throws(WebSocketError) {
        var policy = access
        if let agentToken { policy.agentToken = agentToken }
        let access = policy
        self.access = access
        self.limits = limits
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
        shared = LockedValue(Shared(devices: DeviceRegistry(restoring: savedDevices), commands: CommandRouter(timeout: commandTimeout)))
        let configuration = WebSocketConfiguration(limits: .init(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize),
                                                   closeTimeout: .seconds(2), deflate: deflate,
                                                   drainTimeout: WebSocketConfiguration.serverDrainTimeout)
        let (events, eventsContinuation) = AsyncStream.makeStream(of: HubEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        self.events = events
        self.eventsContinuation = eventsContinuation
        // Apps and agents upgrade to WebSocket on any path; a plain GET / gets the dashboard.
        let owner = ListenerOwner<Hub>()
        var routes = HTTPRoutes()
        routes.add("GET", "/") { _ in HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(DashboardPage.html.utf8)) }
        routes.add("GET", "/access") { _ in
            .json(200, access.appTokenRequired ? #"{"token_required":true}"# : #"{"token_required":false}"#)
        }
        let table = routes
        let secure = tls != nil
        do {
            server = try HTTPServer(host: host, port: port, tls: tls, webSocketConfiguration: configuration, group: group, webSocket: { connection, request in
                guard case .admitted(let credential) = access.admit(request.head, target: request.target, secure: secure, boundHost: host) else {
                    connection.abort()
                    return
                }
                // The hub registers itself right after binding; a connection that is quicker waits for it.
                for _ in 0..<1000 {
                    if let hub = owner.server {
                        await hub.serve(connection, credential: credential)
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(1))
                }
                connection.abort()
            }, upgradeGate: { request in
                guard case .refused(let status, let reason) = access.admit(request.head, target: request.target, secure: secure, boundHost: host) else {
                    return nil
                }
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

    /// Stops accepting, closes every connection with 1001 (going away) and waits for them.
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
    package func isConnected(_ sensorID: String) -> Bool { shared.withLock { $0.state.isConnected(sensorID) } }

    /// How many app connections subscribe to `sensorID`.
    package func subscriberCount(_ sensorID: String) -> Int { shared.withLock { $0.state.subscribers(of: sensorID).count } }

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
        let connections = shared.withLock { shared in shared.connections.map { ($0.key, shared.agents.contains($0.key), $0.value) } }
        return connections.sorted { $0.0 < $1.0 }.map { peer, isAgent, connection in
            ConnectionSnapshot(peer: peer, isAgent: isAgent, loop: connection.core.loop.name, buffers: connection.core.buffers)
        }
    }

    /// Readings dropped for slow subscribers since the start.
    package var droppedReadings: Int { shared.withLock { $0.droppedTotal } }

    // MARK: Peers

    private func serve(_ connection: WebSocketConnection, credential: HubAccessPolicy.Credential) async {
        let (peer, stopping) = shared.withLock { shared in
            let peer = shared.nextPeer()
            shared.connections[peer] = connection
            return (peer, shared.stopping)
        }
        if stopping {
            // Accepted just before `stop()`: it closes like every other connection.
            await connection.close(code: .goingAway, reason: "hub shutting down")
        }
        var announced = false
        var access = PeerAccess(credential: credential)
        var (commandBucket, listBucket) = limits.buckets()
        /// Why the connection is closed with 1008.
        var refusal: Refusal?
        // Messages are handled a batch at a time (what one read brought in); everything they
        // cause is written once per recipient connection at the end of the batch.
        reading: while let batch = await connection.receiveBatch() {
            var outbox = Outbox()
            var replies: [String] = []
            var registryChanged = false
            for message in batch {
                guard case .text(let text) = message, let envelope = SensorProtocol.decode(text) else {
                    eventsContinuation.yield(.skippedMessage(peer: peer, reason: "not a JSON envelope"))
                    continue
                }
                if let agentMessage = AgentMessage(envelope) {
                    if case .connect = agentMessage, self.access.agentToken != nil && access.credential != .agent {
                        refusal = .agentToken("invalid agent token")
                        break
                    }
                    if case .violation(let reason) = access.check(.legacyAgent, policy: self.access) {
                        refusal = .violation(reason)
                        break
                    }
                    if let claimed = refusedClaim(agentMessage, from: peer) {
                        refusal = .violation("sensor \(claimed) belongs to another agent")
                        break
                    }
                    handleAgent(agentMessage, from: peer, into: &outbox)
                } else if let deviceMessage = AgentToHub(envelope) {
                    if case .violation(let reason) = access.check(.deviceAgent, policy: self.access) {
                        refusal = .violation(reason)
                        break
                    }
                    if case .connect(_, let token, _) = deviceMessage, let agentToken = self.access.agentToken,
                       access.credential != .agent && !SecretComparison.matches(token ?? "", agentToken) {
                        refusal = .agentToken("invalid agent token")
                        break
                    }
                    handleDeviceAgent(deviceMessage, from: peer, into: &outbox, replies: &replies, registryChanged: &registryChanged)
                } else if let clientMessage = ClientMessage(envelope) {
                    let isCommand = if case .command = clientMessage { true } else { false }
                    switch access.check(.app(isCommand: isCommand), policy: self.access) {
                    case .allow:
                        break
                    case .violation(let reason):
                        refusal = .violation(reason)
                        break
                    case .forbidden(let reason):
                        if case .command(let requestID, _, _, _) = clientMessage {
                            shared.withLock { $0.forbidden += 1 }
                            outbox.add(HubState.Delivery(message: .commandResponse(requestID: requestID, status: 403, data: ["error": .string(reason)]),
                                                         recipients: [peer]))
                        }
                        continue
                    }
                    if refusal != nil { break }
                    if let exceeded = limitExceeded(by: clientMessage, from: peer, commands: &commandBucket, lists: &listBucket) {
                        shared.withLock { $0.limitsExceeded += 1 }
                        switch exceeded {
                        case .answer(let answer):
                            outbox.add(HubState.Delivery(message: answer, recipients: [peer]))
                            continue
                        case .close(let reason):
                            refusal = .limit(reason)
                        }
                        break
                    }
                    if !announced {
                        announced = true
                        eventsContinuation.yield(.appConnected(peer: peer, address: connection.remoteAddress))
                    }
                    // Reported once handled: an observer that sees a subscribe can rely on it.
                    switch clientMessage {
                    case .command(let requestID, let sensorID, let service, let data):
                        routeCommand(from: peer, requestID: requestID, sensorID: sensorID, service: service, data: data, into: &outbox)
                    case .statistics:
                        outbox.add(shared.withLock { shared in
                            let agents = shared.agents.count
                            let counters: JSONValue = [
                                "apps": .number(Double(shared.connections.count - agents)), "agents": .number(Double(agents)),
                                "sensors": .number(Double(shared.state.connectedSensors.count)),
                                "readings_delivered": .number(Double(shared.delivered)), "readings_dropped": .number(Double(shared.droppedTotal)),
                                "protocol_violations": .number(Double(shared.violations)), "commands_forbidden": .number(Double(shared.forbidden)),
                                "limits_exceeded": .number(Double(shared.limitsExceeded)),
                            ]
                            return HubState.Delivery(message: .statistics(counters), recipients: [peer])
                        })
                    case .listSensors:
                        outbox.add(shared.withLock { shared in
                            HubState.Delivery(message: .sensorList(shared.devices.sensorList(legacy: shared.state.connectedSensors)), recipients: [peer])
                        })
                    default:
                        outbox.add(shared.withLock { $0.state.handle(clientMessage, from: peer) })
                    }
                    eventsContinuation.yield(.appMessage(peer: peer, clientMessage))
                } else {
                    eventsContinuation.yield(.skippedMessage(peer: peer, reason: "unknown event \(envelope.event)"))
                }
            }
            // A change is on the disk before it is acknowledged.
            if registryChanged { await saveRegistry() }
            if !replies.isEmpty { try? connection.sendNow(texts: replies) }
            if let refusal {
                send(outbox)
                switch refusal {
                case .agentToken(let reason):
                    eventsContinuation.yield(.agentRefused(peer: peer, reason: reason))
                case .violation(let reason):
                    shared.withLock { $0.violations += 1 }
                    eventsContinuation.yield(.protocolViolation(peer: peer, reason: reason))
                case .limit(let reason):
                    eventsContinuation.yield(.protocolViolation(peer: peer, reason: reason))
                }
                _ = await connection.close(code: .policyViolation, reason: refusal.reason)
                break reading
            }
            // With backpressure, this peer's next messages wait until every subscriber its
            // readings went to is back under the backlog limit.
            let congested = send(outbox)
            if !congested.isEmpty {
                shared.withLock { $0.heldBack += 1 }
                for subscriber in congested { await subscriber.waitForOutput(below: maxBacklog) }
            }
        }
        let closure = await connection.closed()
        let deliveries = shared.withLock { shared -> [HubState.Delivery] in
            shared.connections[peer] = nil
            shared.dropped[peer] = nil
            shared.state.appGone(peer)
            shared.commands.appGone(peer)
            shared.devices.peerGone(peer)
            return shared.agents.remove(peer) != nil ? shared.state.agentGone(peer) : []
        }
        send(Outbox(deliveries))
        eventsContinuation.yield(.peerDisconnected(peer: peer, closeCode: Int(closure.code.rawValue),
                                                   reason: closure.error.map { "\($0)" } ?? closure.reason))
    }

    /// Why a connection is closed with 1008.
    private enum Refusal {
        /// A wrong agent token (``HubEvent/agentRefused(peer:reason:)``).
        case agentToken(String)
        /// A message the connection may not send (``PeerAccess``, ownership).
        case violation(String)
        /// A per-connection limit (``HubLimits``).
        case limit(String)

        var reason: String {
            switch self {
            case .agentToken(let reason), .violation(let reason), .limit(let reason): reason
            }
        }
    }

    /// What a request past a per-connection limit gets.
    private enum LimitExceeded {
        /// An answer (a command: 429); the connection stays.
        case answer(ServerMessage)
        /// Close with 1008 for this reason.
        case close(String)
    }

    /// Checks an app's message against ``HubLimits`` (taking from the connection's buckets);
    /// nil when it is within them.
    private func limitExceeded(by message: ClientMessage, from peer: UInt64, commands: inout TokenBucket,
                               lists: inout TokenBucket) -> LimitExceeded? {
        switch message {
        case .subscribe(let id):
            let over = shared.withLock { shared in
                shared.state.subscriptionCount(of: peer) >= limits.subscriptionsPerConnection && !shared.state.subscribers(of: id).contains(peer)
            }
            return over ? .close("more than \(limits.subscriptionsPerConnection) subscriptions") : nil
        case .command(let requestID, _, _, _):
            let waiting = shared.withLock { $0.commands.waitingCount(of: peer) }
            let reason: String
            if waiting >= limits.pendingCommandsPerConnection {
                reason = "more than \(limits.pendingCommandsPerConnection) commands waiting for their agents"
            } else if !commands.take(at: started.duration(to: .now)) {
                reason = "more than \(limits.commandsPerSecond) commands a second"
            } else {
                return nil
            }
            return .answer(.commandResponse(requestID: requestID, status: 429, data: ["error": .string(reason)]))
        case .listSensors, .statistics:
            return lists.take(at: started.duration(to: .now)) ? nil : .close("more than \(limits.listsPerSecond) list or statistics requests a second")
        default:
            return nil
        }
    }

    /// A legacy agent message that claims a sensor another connected agent serves: that
    /// sensor's id (the message is refused; the owner keeps it).
    private func refusedClaim(_ message: AgentMessage, from peer: UInt64) -> String? {
        let claimed: [String]
        switch message {
        case .connect(_, let sensors): claimed = sensors
        case .sensorAdded(let id): claimed = [id]
        default: return nil
        }
        return shared.withLock { shared in claimed.first { !shared.state.mayClaim($0, by: peer) } }
    }

    private func handleAgent(_ message: AgentMessage, from peer: UInt64, into outbox: inout Outbox) {
        switch message {
        case .connect(let name, let sensors):
            eventsContinuation.yield(.agentConnected(peer: peer, name: name, sensors: sensors))
            outbox.add(shared.withLock { shared in
                shared.agents.insert(peer)
                return shared.state.agentConnected(peer, sensors: sensors)
            })
        case .data(let id, let readings):
            if let delivery = shared.withLock({ $0.state.reading(id, readings, from: peer) }) { outbox.add(delivery) }
        case .sensorAdded(let id):
            outbox.add(shared.withLock { $0.state.sensorAdded(id, by: peer) })
        case .sensorRemoved(let id):
            outbox.add(shared.withLock { $0.state.sensorRemoved(id, by: peer) })
        case .disconnect:
            outbox.add(shared.withLock { shared in
                shared.agents.remove(peer)
                return shared.state.agentGone(peer)
            })
        }
    }

    /// A device agent's message: registry changes, their acks (`replies`, to the agent), and
    /// what apps see (connection status, readings).
    private func handleDeviceAgent(_ message: AgentToHub, from peer: UInt64, into outbox: inout Outbox, replies: inout [String],
                                   registryChanged: inout Bool) {
        func ack(_ id: String, _ outcome: DeviceRegistry.Outcome) {
            replies.append(SensorProtocol.encode(HubToAgent.ack(requestID: id, status: outcome.status, error: outcome.error).envelope))
        }
        switch message {
        case .connect(let agentID, _, let devices):
            eventsContinuation.yield(.agentConnected(peer: peer, name: agentID, sensors: devices.map(\.id)))
            let sync = shared.withLock { shared -> DeviceRegistry.Sync in
                shared.agents.insert(peer)
                var sync = shared.devices.agentConnected(peer, agentID: agentID, devices: devices)
                // A device this agent registered before, served meanwhile by another agent's
                // connection (a legacy agent claimed the id): that agent keeps it.
                sync.connected.removeAll { !Self.mayClaim($0, by: peer, agentID: agentID, in: shared) }
                for id in sync.connected { outbox.add(shared.state.sensorAdded(id, by: peer, replacing: true)) }
                for id in sync.disconnected {
                    // Owned by this agent's previous connection, or by this one.
                    outbox.add(shared.state.sensorRemoved(id, by: shared.state.owner(of: id) ?? peer))
                }
                return sync
            }
            replies.append(SensorProtocol.encode(HubToAgent.sync(register: sync.register).envelope))
        case .register(let id, let device, let hash), .update(let id, let device, let hash):
            let mustExist = if case .update = message { true } else { false }
            let outcome = shared.withLock { shared -> DeviceRegistry.Outcome in
                if let agentID = shared.devices.agentID(of: peer), !Self.mayClaim(device.id, by: peer, agentID: agentID, in: shared) {
                    return DeviceRegistry.Outcome(status: 409, error: "device \(device.id) belongs to another agent")
                }
                let outcome = shared.devices.describe(device, hash: hash, from: peer, mustExist: mustExist)
                if outcome.status == 200 { outbox.add(shared.state.sensorAdded(device.id, by: peer, replacing: true)) }
                return outcome
            }
            if outcome.status == 200 { registryChanged = true }
            ack(id, outcome)
        case .disconnect(let id, let deviceID), .delete(let id, let deviceID):
            let delete = if case .delete = message { true } else { false }
            let outcome = shared.withLock { shared -> DeviceRegistry.Outcome in
                let outcome = shared.devices.withdraw(deviceID, from: peer, delete: delete)
                if outcome.status == 200 { outbox.add(shared.state.sensorRemoved(deviceID, by: peer)) }
                return outcome
            }
            if delete && outcome.status == 200 { registryChanged = true }
            ack(id, outcome)
        case .event(let id, let deviceID, let service, let data):
            let outcome = shared.withLock { shared -> DeviceRegistry.Outcome in
                guard shared.devices.mayPublish(deviceID, from: peer) else {
                    return DeviceRegistry.Outcome(status: 404, error: "unknown or disconnected device \(deviceID)")
                }
                var readings = data.objectValue ?? ["value": data]
                readings["service"] = .string(service)
                if let delivery = shared.state.reading(deviceID, .object(readings), from: peer) { outbox.add(delivery) }
                return DeviceRegistry.Outcome(status: 200, error: nil)
            }
            ack(id, outcome)
        case .commandResponse(let commandID, let status, let data):
            if let (app, answer) = shared.withLock({ $0.commands.response(from: peer, commandID: commandID, status: status, data: data) }) {
                outbox.add(HubState.Delivery(message: answer, recipients: [app]))
            }
        }
    }

    /// Whether a device agent (`agentID`, speaking through `peer`) may serve `id`: no other
    /// agent's connection serves it. Another connection of the same agent id may (the agent
    /// reconnected before its old connection was found dead).
    private static func mayClaim(_ id: String, by peer: UInt64, agentID: String, in shared: Shared) -> Bool {
        guard let owner = shared.state.owner(of: id), owner != peer else { return true }
        return shared.devices.agentID(of: owner) == agentID
    }

    /// Saves the registry file (if any) and waits until it is on the disk: the snapshot is
    /// taken and handed to the writer under the state lock (so versions follow the states
    /// they show), the write is made by the writer's thread while this task is suspended.
    private func saveRegistry() async {
        guard let registryWriter, let registryFile else { return }
        let ticket = shared.withLock { registryWriter.enqueue(RegistryFile.encode($0.devices.saved)) }
        guard let ticket else { return }
        registryWriter.wake(ticket)
        if let reason = await registryWriter.waitUntilSaved(ticket.version) {
            eventsContinuation.yield(.skippedMessage(peer: 0, reason: "device registry \(registryFile) not saved: \(reason)"))
        }
    }

    private func routeCommand(from app: UInt64, requestID: String, sensorID: String, service: String, data: JSONValue, into outbox: inout Outbox) {
        let now = started.duration(to: .now)
        let (route, agentConnection) = shared.withLock { shared -> (CommandRouter.Route, WebSocketConnection?) in
            let agent = shared.devices.agentPeer(serving: sensorID)
            let route = shared.commands.command(from: app, requestID: requestID, deviceID: sensorID, service: service, data: data, agent: agent, now: now)
            if case .forward(let agent, _, _) = route { return (route, shared.connections[agent]) }
            return (route, nil)
        }
        switch route {
        case .answer(let message):
            outbox.add(HubState.Delivery(message: message, recipients: [app]))
        case .forward(_, let command, let deadline):
            try? agentConnection?.sendNow(text: SensorProtocol.encode(command.envelope))
            let wake = started + deadline
            Task { [weak self] in
                try? await ContinuousClock().sleep(until: wake)
                self?.expireCommands()
            }
        }
    }

    /// Answers 504 for every command past its deadline.
    private func expireCommands() {
        let now = started.duration(to: .now)
        let expired = shared.withLock { $0.commands.expire(now: now) }
        send(Outbox(expired.map { HubState.Delivery(message: $0.message, recipients: [$0.app]) }))
    }

    /// Writes what a batch produced: each message encoded and framed once for all its
    /// recipients, each recipient's messages in as few writes as the socket allows. Readings to
    /// a subscriber whose backlog is full are dropped (and reported once per 1,000), or with
    /// ``SubscriberOverflow/backpressure`` queued anyway and the subscriber returned among
    /// those to wait for; statuses and answers are never refused.
    @discardableResult
    private func send(_ outbox: Outbox) -> [WebSocketConnection] {
        guard !outbox.deliveries.isEmpty else { return [] }
        let runs = FanOutRuns(outbox.deliveries)
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
                    try connection.sendSoon(encoded: groups, refusingAbove: isReading && dropsReadings ? maxBacklog : Int.max)
                    queuedReadings += readings
                } catch .outboundFull {
                    countDropped(readings, for: recipient.peer)
                } catch {
                    // Closing or failed: its serve loop ends and cleans up.
                }
            }
            delivered += queuedReadings
            if queuedReadings > 0 && !dropsReadings && connection.pendingOutputBytes > maxBacklog { congested.append(connection) }
        }
        if delivered > 0 { shared.withLock { $0.delivered += delivered } }
        return congested
    }

    /// Counts readings dropped for a slow subscriber; reported when the count crosses 1,
    /// 1001, 2001 ...
    private func countDropped(_ count: Int, for peer: UInt64) {
        guard count > 0 else { return }
        let (previous, total) = shared.withLock { shared -> (Int, Int) in
            let previous = shared.dropped[peer, default: 0]
            shared.dropped[peer] = previous + count
            shared.droppedTotal += count
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
        send(Outbox(shared.withLock { $0.state.agentConnected(peer, sensors: sensors) }))
        return agent
    }

    fileprivate func localAgent(_ peer: UInt64, _ messages: some Sequence<AgentMessage>) {
        var outbox = Outbox()
        for message in messages { handleAgent(message, from: peer, into: &outbox) }
        send(outbox)
    }
}

/// What handling a batch of messages produced, in order, to be written at the end of the batch.
private struct Outbox {
    var deliveries: [HubState.Delivery] = []

    init(_ deliveries: [HubState.Delivery] = []) {
        self.deliveries = deliveries
    }

    mutating func add(_ delivery: HubState.Delivery) { deliveries.append(delivery) }
    mutating func add(_ more: [HubState.Delivery]) { deliveries += more }
}

/// An agent living in the hub's process: publishes readings without a socket.
package final class LocalAgent: Sendable {
    private let hub: Hub
    private let peer: UInt64

    fileprivate init(hub: Hub, peer: UInt64) {
        self.hub = hub
        self.peer = peer
    }

    /// Publishes one reading of `sensorID` to its subscribers.
    package func publish(_ sensorID: String, _ readings: JSONValue) {
        hub.localAgent(peer, CollectionOfOne(.data(sensorID: sensorID, readings: readings)))
    }

    /// Publishes several readings at once, as a remote agent's batch arrives: each subscriber
    /// gets them in one write.
    package func publish(_ batch: some Sequence<(sensorID: String, readings: JSONValue)>) {
        hub.localAgent(peer, batch.lazy.map { AgentMessage.data(sensorID: $0.sensorID, readings: $0.readings) })
    }

    /// Announces a new sensor.
    package func addSensor(_ sensorID: String) { hub.localAgent(peer, CollectionOfOne(.sensorAdded(sensorID: sensorID))) }

    /// Withdraws a sensor.
    package func removeSensor(_ sensorID: String) { hub.localAgent(peer, CollectionOfOne(.sensorRemoved(sensorID: sensorID))) }

    /// Disconnects the agent: its sensors become disconnected.
    package func detach() { hub.localAgent(peer, CollectionOfOne(.disconnect)) }
}
