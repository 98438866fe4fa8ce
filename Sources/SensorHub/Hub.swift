import Locking
import SensorStream
import WebSocketCore
import WebSocketIO

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

    package var description: String {
        switch self {
        case .appConnected(let peer, let address): "app #\(peer) connected from \(address)"
        case .appMessage(let peer, let message): "app #\(peer): \(SensorProtocol.encode(message.envelope))"
        case .agentConnected(let peer, let name, let sensors): "agent #\(peer) \(name) connected with \(sensors.count) sensors: \(sensors.joined(separator: ", "))"
        case .peerDisconnected(let peer, let code, let reason): "#\(peer) disconnected (close \(code)\(reason.isEmpty ? "" : ": \(reason)"))"
        case .skippedMessage(let peer, let reason): "#\(peer): skipped message: \(reason)"
        case .readingsDropped(let peer, let count): "#\(peer): subscriber too slow, dropped \(count) readings"
        case .rejected(let what): "rejected: \(what)"
        }
    }
}

/// The reference aggregator server: apps and agents connect over WebSocket on one port.
///
/// Apps speak the SensorClient protocol; agents the ``AgentMessage`` protocol; in-process
/// agents (simulations, tests) use ``attachAgent(name:sensors:)``. A subscriber that cannot
/// keep up gets its readings dropped once `maxBacklog` bytes wait for its socket: it never
/// grows the hub's memory, and never slows the others.
package final class Hub: Sendable {
    /// The port the hub listens on.
    package let port: Int
    /// What happens, for logging (the newest 10,000 are kept for a slow reader).
    package let events: AsyncStream<HubEvent>
    private let eventsContinuation: AsyncStream<HubEvent>.Continuation
    private let server: WebSocketServer
    private let maxBacklog: Int
    private let shared = LockedValue(Shared())

    private struct Shared: Sendable {
        var state = HubState()
        var connections: [UInt64: WebSocketConnection] = [:]
        var agents: Set<UInt64> = []
        var dropped: [UInt64: Int] = [:]
        var lastPeer: UInt64 = 0
        var tasks: [Task<Void, Never>] = []
        mutating func nextPeer() -> UInt64 { lastPeer += 1; return lastPeer }
    }

    /// Starts a hub on `host`:`port` (0 = a free port; read ``port``).
    /// - Parameters:
    ///   - maxBacklog: bytes that may wait for a slow subscriber before its readings are dropped.
    ///   - maxMessageSize: the largest message accepted from a peer (close 1009 beyond it).
    /// - Throws: ``WebSocketError/connectFailed(_:)`` when the port cannot be bound.
    package init(host: String = "127.0.0.1", port: Int = 0, maxBacklog: Int = 1 << 20,
                 maxMessageSize: Int = 1 << 20) throws(WebSocketError) {
        let configuration = WebSocketConfiguration(limits: .init(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize),
                                                   closeTimeout: .seconds(2))
        server = try WebSocketServer(host: host, port: port, configuration: configuration)
        self.port = server.port
        self.maxBacklog = maxBacklog
        (events, eventsContinuation) = AsyncStream.makeStream(of: HubEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let accept = Task { [server, self] in
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await rejection in server.rejections { self.eventsContinuation.yield(.rejected(rejection)) }
                }
                for await connection in server.connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
        shared.withLock { $0.tasks.append(accept) }
    }

    /// Stops accepting, closes every connection with 1001 (going away) and waits for them.
    package func stop() async {
        server.stop()
        let connections = shared.withLock { Array($0.connections.values) }
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

    /// The number of open connections (apps and agents).
    package var connectionCount: Int { shared.withLock { $0.connections.count } }

    /// Whether an agent currently serves `sensorID`.
    package func isConnected(_ sensorID: String) -> Bool { shared.withLock { $0.state.isConnected(sensorID) } }

    /// How many app connections subscribe to `sensorID`.
    package func subscriberCount(_ sensorID: String) -> Int { shared.withLock { $0.state.subscribers(of: sensorID).count } }

    // MARK: Peers

    private func serve(_ connection: WebSocketConnection) async {
        let peer = shared.withLock { shared in
            let peer = shared.nextPeer()
            shared.connections[peer] = connection
            return peer
        }
        var announced = false
        for await message in connection.messages {
            guard case .text(let text) = message, let envelope = SensorProtocol.decode(text) else {
                eventsContinuation.yield(.skippedMessage(peer: peer, reason: "not a JSON envelope"))
                continue
            }
            if let agentMessage = AgentMessage(envelope) {
                handleAgent(agentMessage, from: peer)
            } else if let clientMessage = ClientMessage(envelope) {
                if !announced {
                    announced = true
                    eventsContinuation.yield(.appConnected(peer: peer, address: connection.remoteAddress))
                }
                eventsContinuation.yield(.appMessage(peer: peer, clientMessage))
                let deliveries = shared.withLock { $0.state.handle(clientMessage, from: peer) }
                deliver(deliveries)
            } else {
                eventsContinuation.yield(.skippedMessage(peer: peer, reason: "unknown event \(envelope.event)"))
            }
        }
        let closure = await connection.closed()
        let deliveries = shared.withLock { shared -> [HubState.Delivery] in
            shared.connections[peer] = nil
            shared.dropped[peer] = nil
            shared.state.appGone(peer)
            return shared.agents.remove(peer) != nil ? shared.state.agentGone(peer) : []
        }
        deliver(deliveries)
        eventsContinuation.yield(.peerDisconnected(peer: peer, closeCode: Int(closure.code.rawValue),
                                                   reason: closure.error.map { "\($0)" } ?? closure.reason))
    }

    private func handleAgent(_ message: AgentMessage, from peer: UInt64) {
        switch message {
        case .connect(let name, let sensors):
            eventsContinuation.yield(.agentConnected(peer: peer, name: name, sensors: sensors))
            deliver(shared.withLock { shared in
                shared.agents.insert(peer)
                return shared.state.agentConnected(peer, sensors: sensors)
            })
        case .data(let id, let readings):
            if let delivery = shared.withLock({ $0.state.reading(id, readings, from: peer) }) { deliver([delivery]) }
        case .sensorAdded(let id):
            deliver(shared.withLock { $0.state.sensorAdded(id, by: peer) })
        case .sensorRemoved(let id):
            deliver(shared.withLock { $0.state.sensorRemoved(id, by: peer) })
        case .disconnect:
            deliver(shared.withLock { shared in
                shared.agents.remove(peer)
                return shared.state.agentGone(peer)
            })
        }
    }

    /// Sends each delivery to its recipients. Readings to a subscriber whose backlog is full
    /// are dropped (and reported once per 1,000); status messages always go out.
    private func deliver(_ deliveries: [HubState.Delivery]) {
        for delivery in deliveries {
            let text = SensorProtocol.encode(delivery.message.envelope)
            let isReading = if case .sensorData = delivery.message { true } else { false }
            let connections = shared.withLock { shared in delivery.recipients.compactMap { peer in shared.connections[peer].map { (peer, $0) } } }
            for (peer, connection) in connections {
                if isReading && connection.pendingOutputBytes > maxBacklog {
                    let count = shared.withLock { shared -> Int in
                        shared.dropped[peer, default: 0] += 1
                        return shared.dropped[peer, default: 0]
                    }
                    if count % 1000 == 1 { eventsContinuation.yield(.readingsDropped(peer: peer, count: count)) }
                    continue
                }
                try? connection.sendNow(text: text)
            }
        }
    }

    // MARK: In-process agents

    /// Connects an in-process agent (simulations, tests) serving `sensors`.
    package func attachAgent(name: String, sensors: [String]) -> LocalAgent {
        let peer = shared.withLock { $0.nextPeer() }
        let agent = LocalAgent(hub: self, peer: peer)
        eventsContinuation.yield(.agentConnected(peer: peer, name: name, sensors: sensors))
        deliver(shared.withLock { $0.state.agentConnected(peer, sensors: sensors) })
        return agent
    }

    fileprivate func localAgent(_ peer: UInt64, _ message: AgentMessage) {
        handleAgent(message, from: peer)
    }
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
        hub.localAgent(peer, .data(sensorID: sensorID, readings: readings))
    }

    /// Announces a new sensor.
    package func addSensor(_ sensorID: String) { hub.localAgent(peer, .sensorAdded(sensorID: sensorID)) }

    /// Withdraws a sensor.
    package func removeSensor(_ sensorID: String) { hub.localAgent(peer, .sensorRemoved(sensorID: sensorID)) }

    /// Disconnects the agent: its sensors become disconnected.
    package func detach() { hub.localAgent(peer, .disconnect) }
}
