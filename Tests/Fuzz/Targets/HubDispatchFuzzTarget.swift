import SensorAgent
import SensorHub
import SensorStream
import SensorWire

/// Fuzzing of the hub's message dispatch with roles, rights and ownership (``HubCore``).
///
/// Input: a first byte choosing the hub's rules (agent token, app tokens, the legacy protocol)
/// and so each of four connections' credentials, then lines `P JSON`: connection P (0-3) sends
/// that message. Checks, after every message: nothing traps; a refused message changed
/// nothing (owners, subscribers, devices); an app never owns a sensor; a sensor changes hands
/// only when its owner gave it up or the same device agent took it over on another
/// connection; a device the registry calls connected is served by its agent's connection; a
/// command from a connection without the right is never forwarded; with an agent token, the
/// legacy protocol from a connection without it is refused; a history request is answered
/// exactly once (a read only from a hub that records, with a checked range and size; else an
/// answer under its id). At the end every
/// connection closes and nothing is left owned or subscribed.
enum HubDispatchFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let rules = input.first else { return }
        let agentToken = rules & 1 != 0 ? "agent-token" : nil
        let appTokens: [String: AppRight] = rules & 2 != 0 ? ["r": .read, "c": .command, "a": .admin] : [:]
        let policy = HubAccessPolicy(agentToken: agentToken, appTokens: appTokens, legacyAgents: rules & 4 == 0)
        var core = HubCore(policy: policy, limits: HubLimits(subscriptionsPerConnection: 8, pendingCommandsPerConnection: 4,
                                                             commandsPerSecond: 2, listsPerSecond: 2, historyRequestsPerSecond: 2))
        core.recordsReadings = rules & 8 != 0
        let credentials: [HubAccessPolicy.Credential] = appTokens.isEmpty
            ? [.none, agentToken == nil ? .none : .agent, .none, .none]
            : [.app(.read), agentToken == nil ? .app(.admin) : .agent, .app(.command), .app(.admin)]
        for (peer, credential) in credentials.enumerated() { core.connected(UInt64(peer), credential: credential, address: "fuzz") }
        var open = Set<UInt64>(0..<4)
        var mentioned = Set<String>()
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        for (index, line) in text.split(separator: "\n").enumerated() {
            guard let first = line.first, let digit = first.wholeNumberValue, digit < 4 else { continue }
            let peer = UInt64(digit)
            guard open.contains(peer), let envelope = SensorProtocol.decode(String(line.dropFirst())), let message = HubMessage(envelope) else { continue }
            mentioned.formUnion(message.sensorIDs)
            let before = snapshot(core, mentioned)
            let agentIDsBefore = (0..<4).map { core.devices.agentID(of: UInt64($0)) }
            var effects = HubEffects()
            core.handle(message, from: peer, now: .milliseconds(index * 10), into: &effects)
            let after = snapshot(core, mentioned)
            if effects.refusal != nil {
                precondition(before == after, "a refused message changed the hub")
                open.remove(peer)
                _ = core.disconnected(peer)
            }
            for id in mentioned {
                if let owner = core.state.owner(of: id) {
                    precondition(core.role(of: owner) != .app, "an app owns \(id)")
                }
                let (old, new) = (before.owners[id] ?? nil, after.owners[id] ?? nil)
                if let old, old != new, effects.refusal == nil {
                    // The same device agent, now speaking through `peer`, took over or withdrew it.
                    let previousAgent = old < 4 ? agentIDsBefore[Int(old)] : nil
                    let sameAgent = previousAgent != nil && previousAgent == core.devices.agentID(of: peer)
                    precondition(old == peer || sameAgent, "\(id) taken from \(old) by \(peer)")
                }
            }
            // The registry and the owners agree: a device the registry calls connected is
            // served by its agent's connection.
            for (id, entry) in core.devices.entries where entry.connected {
                precondition(core.state.owner(of: id) == core.devices.agentPeer(serving: id), "\(id): registry and owners disagree")
            }
            if case .app(.command) = message, case .app(let right) = credentials[Int(peer)], right < .command {
                precondition(effects.forwards.isEmpty, "a command forwarded without the right")
            }
            let historyID: String? = switch message {
            case .app(.history(let request)): request.requestID
            case .app(.invalidHistory(let invalid)): invalid.requestID
            default: nil
            }
            if let historyID, effects.refusal == nil {
                let answers = effects.deliveries.filter {
                    if case .historyResponse(historyID, _, _) = $0.message { $0.recipients == [peer] } else { false }
                }
                precondition(effects.historyReads.count + answers.count == 1, "a history request answered \(effects.historyReads.count + answers.count) times")
                for read in effects.historyReads {
                    precondition(core.recordsReadings && read.peer == peer && read.query.requestID == historyID, "a read nobody asked for")
                    precondition(read.query.from <= read.query.to && (1...HistoryQuery.maxPointsPerAnswer).contains(read.query.maxPoints),
                                 "an unchecked history read")
                }
            } else {
                precondition(effects.historyReads.isEmpty, "a history read for another message")
            }
            if case .legacyAgent = message, agentToken != nil, credentials[Int(peer)] != .agent {
                precondition(effects.refusal != nil, "the legacy protocol without the agent token")
            }
        }
        for peer in open { _ = core.disconnected(peer) }
        precondition(core.state.connectedSensors.isEmpty, "a sensor still owned after every connection closed")
        for id in mentioned { precondition(core.state.subscribers(of: id).isEmpty, "a subscription outlived its connection") }
    }

    /// Owners, subscribers and device entries of the sensors named so far.
    struct Snapshot: Equatable {
        var owners: [String: UInt64?]
        var subscribers: [String: Set<UInt64>]
        var devices: [String: DeviceRegistry.Entry]
    }

    static func snapshot(_ core: HubCore, _ ids: Set<String>) -> Snapshot {
        Snapshot(owners: Dictionary(uniqueKeysWithValues: ids.map { ($0, core.state.owner(of: $0)) }),
                 subscribers: Dictionary(uniqueKeysWithValues: ids.map { ($0, core.state.subscribers(of: $0)) }),
                 devices: core.devices.entries)
    }
}
