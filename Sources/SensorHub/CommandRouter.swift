import SensorAgent
import SensorWire

/// Commands on their way from an app to a device's agent and back, sans-I/O: each gets a
/// command id, the app's request id is remembered, and the answer (or a timeout) goes back to
/// the app that asked. Time is the caller's (`now`).
package struct CommandRouter: Sendable {
    package typealias PeerID = UInt64

    private struct Pending: Sendable {
        let app: PeerID
        let requestID: String
        let agent: PeerID
        let deadline: Duration
    }

    /// How long an agent has to answer.
    package let timeout: Duration
    private var pending: [String: Pending] = [:]
    private var pendingPerApp: [PeerID: Int] = [:]
    private var lastID: UInt64 = 0

    package init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Commands waiting for an answer.
    package var waitingCount: Int { pending.count }

    /// Commands of `app` waiting for an answer.
    package func waitingCount(of app: PeerID) -> Int { pendingPerApp[app] ?? 0 }

    /// What to do with an app's command.
    package enum Route: Sendable, Hashable {
        /// Send `command` to the agent behind `agent`; call ``expire(now:)`` at `deadline`.
        case forward(agent: PeerID, command: HubToAgent, deadline: Duration)
        /// Answer the app at once.
        case answer(ServerMessage)
    }

    /// An app's `sensor_command`; `agent` is the connection of the device's agent (nil: unknown
    /// or disconnected device).
    package mutating func command(from app: PeerID, requestID: String, deviceID: String, service: String, data: JSONValue,
                                  agent: PeerID?, now: Duration) -> Route {
        guard let agent else {
            return .answer(.commandResponse(requestID: requestID, status: 404, data: ["error": .string("unknown or disconnected device \(deviceID)")]))
        }
        lastID += 1
        let commandID = "cmd-\(lastID)"
        let deadline = now + timeout
        pending[commandID] = Pending(app: app, requestID: requestID, agent: agent, deadline: deadline)
        pendingPerApp[app, default: 0] += 1
        return .forward(agent: agent, command: .command(commandID: commandID, deviceID: deviceID, service: service, data: data), deadline: deadline)
    }

    /// An agent's `command_response`: the app to tell and what (nil: unknown, late, or not this
    /// agent's command).
    package mutating func response(from agent: PeerID, commandID: String, status: Int, data: JSONValue) -> (app: PeerID, message: ServerMessage)? {
        guard let entry = pending[commandID], entry.agent == agent else { return nil }
        pending[commandID] = nil
        answered(entry.app)
        return (entry.app, .commandResponse(requestID: entry.requestID, status: status, data: data))
    }

    /// Commands whose agent did not answer by `now`: 504 for their apps.
    package mutating func expire(now: Duration) -> [(app: PeerID, message: ServerMessage)] {
        let late = pending.filter { $0.value.deadline <= now }.sorted { $0.key < $1.key }
        for (id, entry) in late {
            pending[id] = nil
            answered(entry.app)
        }
        let (seconds, attoseconds) = timeout.components
        let limit = attoseconds == 0 ? "\(seconds) s" : "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
        return late.map { ($0.value.app, .commandResponse(requestID: $0.value.requestID, status: 504,
                                                          data: ["error": .string("the agent did not answer within \(limit)")])) }
    }

    /// An app went: its commands' answers have nowhere to go.
    package mutating func appGone(_ app: PeerID) {
        pending = pending.filter { $0.value.app != app }
        pendingPerApp[app] = nil
    }

    private mutating func answered(_ app: PeerID) {
        guard let count = pendingPerApp[app] else { return }
        pendingPerApp[app] = count > 1 ? count - 1 : nil
    }
}
