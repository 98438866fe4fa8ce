import ConnectionCore
import SensorWire
import WebSocketIO

/// Counters an app can read at any time through ``SensorClient/statistics``.
public struct ClientStatistics: Sendable, Hashable {
    /// `new_sensor_data` messages received for sensors with consumers.
    public var readingsReceived = 0
    /// Readings a stream's buffer dropped because its consumer fell behind.
    public var readingsDropped = 0
    /// Successful reconnects.
    public var reconnects = 0
    /// Server messages the typed API skipped (unknown events, missing fields, bad JSON).
    public var messagesSkipped = 0
}

/// A change of a sensor's connection status, as the server reported it (an answer to
/// ``SensorClient/sensorConnected(_:)`` or unsolicited).
public struct SensorStatus: Sendable, Hashable {
    /// The sensor.
    public let sensorID: String
    /// Whether the server says it is connected.
    public let connected: Bool
}

/// The sans-I/O state of a ``SensorClient``: subscriptions, consumers, waiting requests,
/// statistics, and the protocol messages and deliveries each change calls for.
///
/// Every method is plain state work: messages to send are collected in ``outbox`` (the
/// engine queues them on the connection under its lock, in this order, and writes them after
/// releasing it), readings are pushed into consumer queues (their wake-ups returned, not
/// run), and answers are returned as waiters to resume. Nothing here calls out.
struct ClientState: Sendable {
    enum Lifecycle: Sendable {
        /// `connect()` not called yet (or the first connect failed).
        case notStarted
        /// Connected or reconnecting.
        case running
        /// Disconnected by the app, given up, or released: terminal.
        case closed
    }

    struct Consumer: Sendable {
        let queue: ReadingQueue
        /// The next reading follows a reconnect.
        var followsGap = false
    }

    typealias StatusWaiter = CheckedContinuation<Bool, any Error>

    /// What a batch of server messages calls for outside the lock.
    struct Deliveries: Sendable {
        var wakes: [ReadingQueue.Waiter] = []
        var answers: [(StatusWaiter, Bool)] = []

        /// Resumes the consumers and requests (outside every lock).
        func run() {
            for wake in wakes { wake.resume() }
            for (waiter, connected) in answers { waiter.resume(returning: connected) }
        }
    }

    var lifecycle = Lifecycle.notStarted
    /// The open connection, set when its session is replayed and cleared when it ends.
    var connection: WebSocketConnection?
    private(set) var connectionState = ConnectionState.idle
    var book = SubscriptionBook()
    var pending = KeyedRequests<String, StatusWaiter>()
    var consumers: [String: [UInt64: Consumer]] = [:]
    var callbacks: [String: [(consumerID: UInt64, task: Task<Void, Never>)]] = [:]
    var statistics = ClientStatistics()
    /// Values were given to the broadcasters since the owner last delivered them.
    var broadcastPending = false
    /// Protocol messages to send on ``connection``, in order.
    private(set) var outbox: [ClientMessage] = []
    let frames: Broadcaster<RawFrame>
    let states: Broadcaster<ConnectionState>
    let statuses: Broadcaster<SensorStatus>
    private var lastID: UInt64 = 0

    init() {
        frames = Broadcaster(bufferingNewest: 1024)
        states = Broadcaster(bufferingNewest: 64)
        statuses = Broadcaster(bufferingNewest: 1024)
    }

    mutating func makeID() -> UInt64 {
        lastID += 1
        return lastID
    }

    /// Queues a protocol message for the open connection, if any (otherwise the state it
    /// changed is replayed on the next connection).
    mutating func send(_ message: ClientMessage?) {
        guard let message, connection != nil else { return }
        outbox.append(message)
    }

    /// Takes the queued messages.
    mutating func takeOutbox() -> [ClientMessage] {
        defer { outbox.removeAll() }
        return outbox
    }

    /// Publishes a new connection state to every listener (delivered after the lock).
    mutating func publish(_ state: ConnectionState) {
        connectionState = state
        if states.enqueue(state) { broadcastPending = true }
    }

    // MARK: Session

    /// A connection opened: the session's whole state goes out on it, `client_connect` first,
    /// then every active subscription, then every awaited status request.
    mutating func replay(on connection: WebSocketConnection, isReconnect: Bool) {
        self.connection = connection
        send(.connect)
        for sensorID in book.activeSensors { send(.subscribe(sensorID: sensorID)) }
        for sensorID in pending.awaitedKeys { send(.connectionStatus(sensorID: sensorID)) }
        if isReconnect {
            statistics.reconnects += 1
            for sensorID in consumers.keys {
                for id in consumers[sensorID, default: [:]].keys { consumers[sensorID]?[id]?.followsGap = true }
            }
        }
    }

    /// Asks for a sensor's status: registers the waiter; the first for the sensor sends.
    mutating func requestStatus(_ sensorID: String, _ waiter: StatusWaiter) -> UInt64 {
        let (id, isFirst) = pending.add(sensorID, waiter)
        if isFirst { send(.connectionStatus(sensorID: sensorID)) }
        return id
    }

    // MARK: Receiving

    /// Dispatches a batch of server messages (decoded outside the lock): raw frames to their
    /// listeners, statuses to waiting requests and listeners, readings to their consumers.
    mutating func receive(_ batch: [(RawFrame, ServerMessage?)]) -> Deliveries {
        var deliveries = Deliveries()
        if frames.enqueue(contentsOf: batch.lazy.map(\.0)) { broadcastPending = true }
        for (_, message) in batch {
            switch message {
            case nil:
                statistics.messagesSkipped += 1
            case .connectionStatus(let sensorID, let connected)?:
                deliveries.answers += pending.answer(sensorID).map { ($0, connected) }
                if statuses.enqueue(SensorStatus(sensorID: sensorID, connected: connected)) { broadcastPending = true }
            case .sensorData(let sensorID, let readings)?:
                guard var sensorConsumers = consumers[sensorID] else { continue }
                statistics.readingsReceived += 1
                for (id, consumer) in sensorConsumers {
                    let reading = SensorReading(sensorID: sensorID, readings: readings, followsGap: consumer.followsGap)
                    let (dropped, wake) = consumer.queue.push(reading)
                    if dropped { statistics.readingsDropped += 1 }
                    if let wake { deliveries.wakes.append(wake) }
                    if consumer.followsGap { sensorConsumers[id]?.followsGap = false }
                }
                consumers[sensorID] = sensorConsumers
            }
        }
        return deliveries
    }

    // MARK: Closing

    /// Everything to finish or fail once the client is closed, taken out of the state.
    struct Teardown: Sendable {
        var readings: [ReadingQueue] = []
        var tasks: [Task<Void, Never>] = []
        var waiters: [StatusWaiter] = []

        /// Run outside the lock.
        func run(error: SensorClientError) {
            readings.forEach { $0.finish()?.resume() }
            tasks.forEach { $0.cancel() }
            waiters.forEach { $0.resume(throwing: error) }
        }
    }

    /// Closes the client for good: the final state, then the end of every stream (delivered
    /// after the lock), and everything to finish or fail taken out.
    mutating func close(reason: DisconnectReason) -> Teardown {
        lifecycle = .closed
        publish(.disconnected(reason: reason))
        broadcastPending = true
        frames.enqueueFinish()
        states.enqueueFinish()
        statuses.enqueueFinish()
        var teardown = Teardown()
        teardown.readings = consumers.values.flatMap { $0.values.map(\.queue) }
        teardown.tasks = callbacks.values.flatMap { $0.map(\.task) }
        teardown.waiters = pending.removeAll()
        consumers.removeAll()
        callbacks.removeAll()
        // `connection` stays until it ends: the messages sent with this change still go out on it.
        return teardown
    }
}
