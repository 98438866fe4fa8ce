import SensorWire

/// The agent's side of the device protocol, without sockets: which requests wait for the hub,
/// what to send on a new connection, what the hub's messages resolve. The client carries the
/// actions out after its lock.
///
/// On every connection: `agent_connect` with every device's id and hash; the hub answers
/// `agent_sync` with the ids it wants described, which go out as `device_register`, then every
/// request not yet acknowledged, in order. Requests made while offline wait in the queue; a
/// connection lost before their `ack` sends them again after the next sync. A change (register,
/// update, disconnect, delete) whose caller stopped waiting stays queued (the store already
/// holds it); an event whose caller stopped waiting is dropped.
package struct AgentSession<Waiter: Sendable>: Sendable {
    package enum Phase: Sendable, Hashable {
        case offline
        /// `agent_connect` sent; waiting for `agent_sync`.
        case syncing
        case online
    }

    package struct Entry: Sendable {
        package let requestID: String
        package let message: AgentToHub
        package var waiter: Waiter?
        package var sent: Bool
    }

    /// What a hub message resolved.
    package enum Resolution: Sendable {
        /// Nothing for a caller (sync handled, an unknown ack).
        case none
        /// A request's ack: its waiter (nil when abandoned), status, error text.
        case acked(Waiter?, status: Int, error: String?)
        /// A command for the application.
        case command(AgentCommand)
    }

    package let agentID: String
    package let token: String?
    package private(set) var phase = Phase.offline
    /// Requests not acknowledged yet, oldest first.
    package private(set) var queue: [Entry] = []
    private var lastID: UInt64 = 0

    package init(agentID: String, token: String?) {
        self.agentID = agentID
        self.token = token
    }

    /// A connection opened: what to send first.
    package mutating func connected(devices: [Device]) -> [AgentToHub] {
        phase = .syncing
        for index in queue.indices { queue[index].sent = false }
        return [.connect(agentID: agentID, token: token, devices: devices.map { .init(id: $0.id, hash: $0.hash) })]
    }

    /// The connection ended: every request waits for the next one, except events nobody
    /// waits for (published without a waiter: stale by the next connection), which are dropped.
    package mutating func lost() {
        phase = .offline
        queue.removeAll { entry in
            if case .event = entry.message { entry.waiter == nil } else { false }
        }
        for index in queue.indices { queue[index].sent = false }
    }

    /// Whether requests go out at once.
    package var isOnline: Bool { phase == .online }

    /// Queues a request built with its new id; returns the id and what to send now (it, when online).
    package mutating func submit(_ build: (String) -> AgentToHub, waiter: Waiter?) -> (requestID: String, send: [AgentToHub]) {
        lastID += 1
        let id = "\(agentID)-\(lastID)"
        let message = build(id)
        let online = phase == .online
        queue.append(Entry(requestID: id, message: message, waiter: waiter, sent: online))
        return (id, online ? [message] : [])
    }

    /// A message from the hub; `device` looks up the store. Returns what to send and what it resolved.
    package mutating func received(_ message: HubToAgent, device: (String) -> Device?) -> (send: [AgentToHub], resolution: Resolution) {
        switch message {
        case .sync(let ids):
            guard phase == .syncing else { return ([], .none) }
            phase = .online
            var send: [AgentToHub] = []
            for id in ids {
                guard let current = device(id) else { continue }
                lastID += 1
                // Described for the sync: nobody waits, and a lost connection describes it again.
                send.append(.register(requestID: "\(agentID)-sync-\(lastID)", device: current, hash: current.hash))
            }
            for index in queue.indices where !queue[index].sent {
                queue[index].sent = true
                send.append(queue[index].message)
            }
            return (send, .none)
        case .ack(let id, let status, let error):
            guard let index = queue.firstIndex(where: { $0.requestID == id }) else { return ([], .none) }
            let entry = queue.remove(at: index)
            return ([], .acked(entry.waiter, status: status, error: error))
        case .command(let id, let deviceID, let service, let data):
            return ([], .command(AgentCommand(id: id, deviceID: deviceID, service: service, data: data)))
        }
    }

    /// The caller of `requestID` stopped waiting: its waiter. An event leaves the queue; a
    /// change stays (without a waiter) to reach the hub later.
    package mutating func abandon(_ requestID: String) -> Waiter? {
        guard let index = queue.firstIndex(where: { $0.requestID == requestID }) else { return nil }
        let waiter = queue[index].waiter
        if case .event = queue[index].message {
            queue.remove(at: index)
        } else {
            queue[index].waiter = nil
        }
        return waiter
    }

    /// Takes every waiter (the agent stopped or was refused).
    package mutating func removeAllWaiters() -> [Waiter] {
        defer { for index in queue.indices { queue[index].waiter = nil } }
        return queue.compactMap(\.waiter)
    }
}

/// A command an app sent to one of the agent's devices, through the hub.
public struct AgentCommand: Sendable, Hashable, CustomStringConvertible {
    /// The hub's id for it; the response names it.
    public let id: String
    /// The device it is for.
    public let deviceID: String
    /// The service asked for (`switch` ...).
    public let service: String
    /// Its arguments.
    public let data: JSONValue

    /// A command.
    /// - Parameters:
    ///   - id: See ``id``.
    ///   - deviceID: See ``deviceID``.
    ///   - service: See ``service``.
    ///   - data: See ``data``.
    public init(id: String, deviceID: String, service: String, data: JSONValue) {
        self.id = id
        self.deviceID = deviceID
        self.service = service
        self.data = data
    }

    /// `lamp-2 switch {"on":true}`.
    public var description: String { "\(deviceID) \(service) \(JSONSerializer.serialize(data))" }
}

/// The hub's answer to a request: a status code (200: done), a content type and a payload.
public struct PlatformMessage: Sendable, Hashable {
    /// 200 when the hub did what was asked; 400 (a malformed device, a wrong hash), 404 (an
    /// unknown device) ...
    public var statusCode: Int
    /// The payload's type: `application/json`.
    public var contentType: String
    /// The payload: `{}` on success, `{"error": "..."}` otherwise.
    public var payload: [UInt8]

    /// A message.
    /// - Parameters:
    ///   - statusCode: See ``statusCode``.
    ///   - contentType: See ``contentType``.
    ///   - payload: See ``payload``.
    public init(statusCode: Int, contentType: String = "application/json", payload: [UInt8]) {
        self.statusCode = statusCode
        self.contentType = contentType
        self.payload = payload
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(statusCode) }

    /// An ack as a message.
    init(status: Int, error: String?) {
        let body: JSONValue = error.map { ["error": .string($0)] } ?? .object([:])
        self.init(statusCode: status, payload: Array(JSONSerializer.serialize(body).utf8))
    }
}
