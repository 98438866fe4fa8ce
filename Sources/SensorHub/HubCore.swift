import SensorAgent
import SensorWire

/// The hub's protocol logic, sans-I/O: who is connected and as what (``PeerAccess``), which
/// agent serves which sensor and who subscribes (``HubState``), devices (``DeviceRegistry``),
/// commands on their way (``CommandRouter``), the per-connection limits and the counters.
/// Fed one connection's messages with the hub's time, it returns what to do
/// (``HubEffects``); the I/O layer (``Hub``) holds it under one lock and carries the effects out
/// after. One handler per role: `HubCore+LegacyAgents`, `HubCore+DeviceAgents`, `HubCore+Apps`.
package struct HubCore: Sendable {
    package typealias PeerID = HubState.PeerID

    /// Subscriptions, owners, readings' recipients.
    package internal(set) var state = HubState()
    /// Device agents' devices.
    package internal(set) var devices: DeviceRegistry
    /// Commands waiting for their agents.
    package internal(set) var commands: CommandRouter
    /// What `hub_statistics` reports.
    package var counters = HubCounters()
    /// Whether accepted readings are handed out for the history (``HubEffects/accepted``).
    package var recordsReadings = false
    /// Tokens, origins, the legacy protocol.
    package let policy: HubAccessPolicy
    /// What one connection may ask.
    package let limits: HubLimits
    /// Connections that announced themselves as agents (legacy or device).
    package internal(set) var agents: Set<PeerID> = []
    /// Device agents' earlier connections, still open, that a newer connection of the same
    /// agent id replaced (until they close): their sensors move to the newer one.
    var supersededAgents: [PeerID: String] = [:]
    var peers: [PeerID: Peer] = [:]
    /// History requests being read from the store, over every connection.
    package internal(set) var historyReadsInFlight = 0

    /// One connection's standing.
    struct Peer: Sendable {
        var access: PeerAccess
        var commandBucket: TokenBucket
        var listBucket: TokenBucket
        var historyBucket: TokenBucket
        /// Its history requests being read from the store.
        var historyReads = 0
        /// Its first app message was reported.
        var announced = false
        let address: String
    }

    /// A core with these rules, knowing the devices an earlier hub saved.
    package init(policy: HubAccessPolicy = HubAccessPolicy(), limits: HubLimits = HubLimits(), commandTimeout: Duration = .seconds(10),
                 savedDevices: [String: [Device]] = [:]) {
        self.policy = policy
        self.limits = limits
        devices = DeviceRegistry(restoring: savedDevices)
        commands = CommandRouter(timeout: commandTimeout)
    }

    /// The role `peer` has taken (nil: not decided yet, or not connected).
    package func role(of peer: PeerID) -> PeerAccess.Role? { peers[peer]?.access.role }

    /// A connection was admitted with `credential` (from its upgrade request).
    package mutating func connected(_ peer: PeerID, credential: HubAccessPolicy.Credential, address: String) {
        let (commands, lists, histories) = limits.buckets()
        peers[peer] = Peer(access: PeerAccess(credential: credential), commandBucket: commands, listBucket: lists,
                           historyBucket: histories, address: address)
    }

    /// Handles one message from `peer` at `now` (the hub's time, for command deadlines and
    /// rate limits). A refused message sets ``HubEffects/refusal`` and changes nothing else;
    /// the caller stops handling the connection's messages there.
    package mutating func handle(_ message: HubMessage, from peer: PeerID, now: Duration, into effects: inout HubEffects) {
        guard effects.refusal == nil, var standing = peers[peer] else { return }
        defer { peers[peer] = standing }
        if message.sensorIDs.contains(where: { $0.isEmpty || $0.utf8.count > HubMessage.maxSensorIDBytes }) {
            refuse(.violation("a sensor id that is empty or longer than \(HubMessage.maxSensorIDBytes) bytes"), into: &effects)
            return
        }
        if case .legacyAgent(.connect) = message, policy.agentToken != nil, standing.access.credential != .agent {
            refuse(.agentToken("invalid agent token"), into: &effects)
            return
        }
        switch standing.access.check(message.kind, policy: policy) {
        case .allow:
            break
        case .violation(let reason):
            refuse(.violation(reason), into: &effects)
            return
        case .forbidden(let reason):
            if case .app(.command(let requestID, _, _, _)) = message {
                counters.forbidden += 1
                effects.deliveries.append(HubState.Delivery(message: .commandResponse(requestID: requestID, status: 403, data: ["error": .string(reason)]),
                                                            recipients: [peer]))
            }
            return
        }
        switch message {
        case .legacyAgent(let message):
            handleLegacyAgent(message, from: peer, into: &effects)
        case .deviceAgent(let message):
            if case .connect(_, let token, _) = message, let agentToken = policy.agentToken, standing.access.credential != .agent,
               (token ?? "").isEmpty || !SecretComparison.matches(token ?? "", agentToken) {
                refuse(.agentToken("invalid agent token"), into: &effects)
                return
            }
            handleDeviceAgent(message, from: peer, into: &effects)
        case .app(let message):
            handleApp(message, from: peer, standing: &standing, now: now, into: &effects)
        }
    }

    /// Sets the refusal (counting violations and limits).
    mutating func refuse(_ refusal: HubRefusal, into effects: inout HubEffects) {
        switch refusal {
        case .agentToken, .violation: counters.violations += 1
        case .limit: counters.limitsExceeded += 1
        }
        effects.refusal = refusal
    }

    /// A connection closed: it subscribes to nothing, its commands' answers have nowhere to go,
    /// its sensors and devices are disconnected. Returns what their subscribers must hear.
    package mutating func disconnected(_ peer: PeerID) -> [HubState.Delivery] {
        peers[peer] = nil
        supersededAgents[peer] = nil
        state.appGone(peer)
        commands.appGone(peer)
        devices.peerGone(peer)
        agents.remove(peer)
        // Whatever it served, announced with `agent_connect` or not (a `sensor_added` alone
        // made it an owner too: found by the fuzz target `hub-dispatch`).
        return state.agentGone(peer)
    }

    /// Commands whose agents did not answer by `now`: 504 for their apps.
    package mutating func expireCommands(now: Duration) -> [HubState.Delivery] {
        commands.expire(now: now).map { HubState.Delivery(message: $0.message, recipients: [$0.app]) }
    }

    /// An in-process agent's messages (simulations, tests): trusted, the legacy protocol.
    package mutating func handleLocalAgent(_ message: AgentMessage, from peer: PeerID, into effects: inout HubEffects) {
        handleLegacyAgent(message, from: peer, into: &effects)
    }
}
