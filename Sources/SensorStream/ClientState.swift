import ConnectionCore
import SensorWire
import WebSocketIO

/// Counters an app can read at any time through ``SensorClient/statistics``: every reading
/// or message the client did not hand to a consumer is counted here, by reason.
public struct ClientStatistics: Sendable, Hashable {
    /// `new_sensor_data` messages received for sensors with consumers.
    public var readingsReceived = 0
    /// Readings a `.newest` stream or callback dropped because its consumer fell behind
    /// (counted once per consumer that lost it).
    public var readingsDropped = 0
    /// `new_sensor_data` messages for a sensor without any consumer at that moment (an
    /// explicit subscription nobody iterates yet, or readings still in flight after the last
    /// consumer left): nobody could have been given them.
    public var readingsWithoutConsumer = 0
    /// Times the client stopped taking messages from the connection because a `.lossless`
    /// consumer's buffer was full (it went on once the consumer made room).
    public var losslessWaits = 0
    /// Raw frames a ``SensorClient/frames`` listener lost because it fell more than 1024 behind.
    public var framesDropped = 0
    /// Statuses a ``SensorClient/sensorStatuses`` listener lost because it fell more than 1024 behind.
    public var sensorStatusesDropped = 0
    /// States a ``SensorClient/connectionStates`` listener lost because it fell more than 64 behind.
    public var connectionStatesDropped = 0
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
///
/// Generic over the connection and the request waiter so that the fuzz target drives this very
/// code with plain tokens (the client uses `WebSocketConnection` and a checked continuation).
package struct ClientState<Connection: AnyObject & Sendable, StatusWaiter: Sendable>: Sendable {
    package enum Lifecycle: Sendable {
        /// `connect()` not called yet (or the first connect failed).
        case notStarted
        /// Connected or reconnecting.
        case running
        /// Disconnected by the app, given up, or released: terminal.
        case closed
    }

    package struct Consumer: Sendable {
        package let queue: ReadingQueue
        /// The next reading follows a reconnect.
        var followsGap = false
    }

    /// What a batch of server messages calls for outside the lock.
    package struct Deliveries: Sendable {
        package var wakes: [ReadingQueue.Waiter] = []
        package var answers: [(StatusWaiter, ClientReply)] = []
        /// Dispatch stopped before this message: a lossless consumer's buffer is full. Wait
        /// for room in `queue`, then receive the batch again from `index`.
        package var blocked: (index: Int, queue: ReadingQueue)?
    }

    package var lifecycle = Lifecycle.notStarted
    /// The open connection, set when its session is replayed and cleared when it ends.
    package var connection: Connection?
    package private(set) var connectionState = ConnectionState.idle
    package private(set) var book = SubscriptionBook()
    package var pending = KeyedRequests<String, StatusWaiter>()
    /// Commands waiting for their response, by request id.
    package var commands = KeyedRequests<String, StatusWaiter>()
    /// Commands made while no connection was open: sent when the next one is replayed (a
    /// command already sent is never sent again).
    private var unsentCommands: [(requestID: String, message: ClientMessage)] = []
    /// `sensors()` calls waiting for the list (one key: every waiter gets the next list).
    package var lists = KeyedRequests<String, StatusWaiter>()
    /// History requests waiting for their answer, by request id, and what each asked (sent
    /// again after a reconnect: reading history changes nothing).
    package var histories = KeyedRequests<String, StatusWaiter>()
    private var historyRequests: [String: HistoryRequest] = [:]
    package private(set) var consumers: [String: [UInt64: Consumer]] = [:]
    var callbacks: [String: [(consumerID: UInt64, task: Task<Void, Never>)]] = [:]
    package private(set) var statistics = ClientStatistics()
    /// Values were given to the broadcasters since the owner last delivered them.
    var broadcastPending = false
    /// Protocol messages to send on ``connection``, in order.
    package private(set) var outbox: [ClientMessage] = []
    let frames: Broadcaster<RawFrame>
    let states: Broadcaster<ConnectionState>
    let statuses: Broadcaster<SensorStatus>
    private var lastID: UInt64 = 0

    package init() {
        frames = Broadcaster(bufferingNewest: 1024)
        states = Broadcaster(bufferingNewest: 64)
        statuses = Broadcaster(bufferingNewest: 1024)
    }

    package mutating func makeID() -> UInt64 {
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
    package mutating func takeOutbox() -> [ClientMessage] {
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
    package mutating func replay(on connection: Connection, isReconnect: Bool) {
        self.connection = connection
        send(.connect)
        for sensorID in book.activeSensors { send(.subscribe(sensorID: sensorID)) }
        for sensorID in pending.awaitedKeys { send(.connectionStatus(sensorID: sensorID)) }
        if !lists.isEmpty { send(.listSensors) }
        for requestID in histories.awaitedKeys { if let request = historyRequests[requestID] { send(.history(request)) } }
        for (requestID, message) in unsentCommands where commands.count(requestID) > 0 { send(message) }
        unsentCommands.removeAll()
        if isReconnect {
            statistics.reconnects += 1
            for sensorID in consumers.keys {
                for id in consumers[sensorID, default: [:]].keys { consumers[sensorID]?[id]?.followsGap = true }
            }
        }
    }

    /// The connection ended: messages are no longer queued until the next one is replayed.
    package mutating func connectionEnded(_ ended: Connection) {
        if connection === ended { connection = nil }
    }

    // MARK: Requests, subscriptions, consumers

    /// Asks for a sensor's status: registers the waiter; the first for the sensor sends.
    package mutating func requestStatus(_ sensorID: String, _ waiter: StatusWaiter) -> UInt64 {
        let id = makeID()
        let isFirst = pending.add(sensorID, waiter, id: id)
        if isFirst { send(.connectionStatus(sensorID: sensorID)) }
        return id
    }

    /// A request gave up (cancelled or timed out): its waiter, if it still waited. Every table
    /// takes its ids from ``makeID()``, so an id names one waiter in one table.
    package mutating func cancelRequest(_ id: UInt64) -> StatusWaiter? {
        if let waiter = histories.remove(id: id) {
            historyRequests = historyRequests.filter { histories.count($0.key) > 0 }
            return waiter
        }
        return pending.remove(id: id) ?? commands.remove(id: id) ?? lists.remove(id: id)
    }

    /// Sends a history request (now, or again on every connection until it is answered) and
    /// registers its waiter.
    package mutating func requestHistory(_ request: HistoryRequest, _ waiter: StatusWaiter) -> UInt64 {
        let id = makeID()
        _ = histories.add(request.requestID, waiter, id: id)
        historyRequests[request.requestID] = request
        send(.history(request))
        return id
    }

    /// Sends a command (now, or when the next connection opens) and registers its waiter.
    package mutating func requestCommand(requestID: String, sensorID: String, service: String, data: JSONValue, _ waiter: StatusWaiter) -> UInt64 {
        let id = makeID()
        _ = commands.add(requestID, waiter, id: id)
        let message = ClientMessage.command(requestID: requestID, sensorID: sensorID, service: service, data: data)
        if connection != nil { send(message) } else { unsentCommands.append((requestID, message)) }
        return id
    }

    /// Asks for the sensor list: registers the waiter; the first waiting one sends.
    package mutating func requestSensors(_ waiter: StatusWaiter) -> UInt64 {
        let id = makeID()
        let isFirst = lists.add("", waiter, id: id)
        if isFirst { send(.listSensors) }
        return id
    }

    /// An explicit subscription (sent if it makes the sensor active).
    package mutating func subscribe(_ sensorID: String) {
        send(book.subscribe(sensorID))
    }

    /// Unsubscribes explicitly (always sent) and ends the sensor's consumers and callbacks.
    package mutating func unsubscribe(_ sensorID: String) -> Teardown {
        send(book.unsubscribe(sensorID))
        var teardown = Teardown()
        teardown.readings = consumers.removeValue(forKey: sensorID)?.values.map(\.queue) ?? []
        teardown.tasks = callbacks.removeValue(forKey: sensorID)?.map(\.task) ?? []
        return teardown
    }

    /// Registers a consumer (subscribing if it is the sensor's first reason); returns its id.
    package mutating func addConsumer(_ sensorID: String, queue: ReadingQueue) -> UInt64 {
        let id = makeID()
        consumers[sensorID, default: [:]][id] = Consumer(queue: queue)
        send(book.addConsumer(sensorID))
        return id
    }

    /// A consumer ended (unsubscribing if it was the sensor's last reason). Idempotent.
    package mutating func removeConsumer(_ sensorID: String, id: UInt64) {
        guard consumers[sensorID]?.removeValue(forKey: id) != nil else { return }
        if consumers[sensorID]?.isEmpty == true { consumers[sensorID] = nil }
        send(book.removeConsumer(sensorID))
    }

    /// Removes every callback of a sensor with its consumer; returns what to finish and cancel.
    mutating func removeCallbacks(_ sensorID: String) -> [(queue: ReadingQueue?, task: Task<Void, Never>)] {
        let removed = callbacks.removeValue(forKey: sensorID) ?? []
        return removed.map { callback in
            let queue = consumers[sensorID]?[callback.consumerID]?.queue
            removeConsumer(sensorID, id: callback.consumerID)
            return (queue, callback.task)
        }
    }

    // MARK: Receiving

    /// Decodes a batch of WebSocket messages (outside the lock): each as a raw frame and, for
    /// text, the server message it carries (nil: not one the typed API knows).
    package static func decode(_ batch: [WebSocketMessage]) -> [(RawFrame, ServerMessage?)] {
        batch.map { message in
            switch message {
            case .text(let text): (.text(text), ServerMessage.decode(text))
            case .binary(let bytes): (.binary(bytes), nil)
            }
        }
    }

    /// Dispatches a batch of server messages (decoded outside the lock), from message `start`
    /// on: raw frames to their listeners, statuses to waiting requests and listeners,
    /// readings to their consumers.
    ///
    /// Stops before a reading that a full `.lossless` consumer of its sensor cannot take
    /// (no consumer of that reading gets it yet: ``Deliveries/blocked`` says where to go on).
    package mutating func receive(_ batch: [(RawFrame, ServerMessage?)], from start: Int = 0) -> Deliveries {
        var deliveries = Deliveries()
        var end = batch.endIndex
        dispatch: for index in start..<batch.endIndex {
            switch batch[index].1 {
            case nil, .statistics?:
                statistics.messagesSkipped += 1
            case .commandResponse(let requestID, let status, let data)?:
                let waiters = commands.answer(requestID)
                if waiters.isEmpty { statistics.messagesSkipped += 1 }
                deliveries.answers += waiters.map { ($0, .command(CommandResponse(status: status, data: data))) }
            case .historyResponse(let requestID, let status, let data)?:
                let waiters = histories.answer(requestID)
                historyRequests[requestID] = nil
                if waiters.isEmpty { statistics.messagesSkipped += 1 }
                let outcome: Result<SensorHistory, SensorClientError>
                if status == 200 {
                    outcome = SensorHistory(data).map(Result.success)
                        ?? .failure(.protocolViolation("a sensor_history_response whose data is malformed"))
                } else {
                    outcome = .failure(.requestRefused(status: status, reason: data["error"]?.stringValue ?? "status \(status)"))
                }
                deliveries.answers += waiters.map { ($0, .history(outcome)) }
            case .sensorList(let entries)?:
                let waiters = lists.answer("")
                if waiters.isEmpty { statistics.messagesSkipped += 1 }
                let sensors = entries.compactMap(SensorInfo.init)
                deliveries.answers += waiters.map { ($0, .sensors(sensors)) }
            case .connectionStatus(let sensorID, let connected)?:
                deliveries.answers += pending.answer(sensorID).map { ($0, .status(connected)) }
                if statuses.enqueue(SensorStatus(sensorID: sensorID, connected: connected)) { broadcastPending = true }
            case .sensorData(let sensorID, let readings)?:
                // One hash of the sensor's name per reading: the slot is read where it is, not
                // copied out and stored back; after a gap (rare) the flags are reset through the
                // slot, which copies the sensor's small consumer table once.
                guard let slot = consumers.index(forKey: sensorID) else {
                    statistics.readingsWithoutConsumer += 1
                    continue
                }
                let sensorConsumers = consumers.values[slot]
                if let full = sensorConsumers.values.first(where: { $0.queue.isLossless && !$0.queue.hasRoom }) {
                    statistics.losslessWaits += 1
                    deliveries.blocked = (index, full.queue)
                    end = index
                    break dispatch
                }
                statistics.readingsReceived += 1
                var gapReported = false
                for consumer in sensorConsumers.values {
                    let reading = SensorReading(sensorID: sensorID, readings: readings, followsGap: consumer.followsGap)
                    let (dropped, wake) = consumer.queue.push(reading)
                    if dropped { statistics.readingsDropped += 1 }
                    if let wake { deliveries.wakes.append(wake) }
                    if consumer.followsGap { gapReported = true }
                }
                if gapReported {
                    for id in sensorConsumers.keys { consumers.values[slot][id]?.followsGap = false }
                }
            }
        }
        if start < end, frames.enqueue(contentsOf: batch[start..<end].lazy.map(\.0)) { broadcastPending = true }
        return deliveries
    }

    // MARK: Closing

    /// Everything to finish or fail once the client is closed, taken out of the state.
    package struct Teardown: Sendable {
        package var readings: [ReadingQueue] = []
        var tasks: [Task<Void, Never>] = []
        package var waiters: [StatusWaiter] = []
    }

    /// The app disconnects: `client_disconnect` goes out on the open connection, then the
    /// state closes for good. Nil if it was closed already.
    package mutating func disconnect(reason: DisconnectReason) -> Teardown? {
        guard lifecycle != .closed else { return nil }
        send(.disconnect)
        return close(reason: reason)
    }

    /// Closes the client for good: the final state, then the end of every stream (delivered
    /// after the lock), and everything to finish or fail taken out.
    package mutating func close(reason: DisconnectReason) -> Teardown {
        lifecycle = .closed
        publish(.disconnected(reason: reason))
        broadcastPending = true
        frames.enqueueFinish()
        states.enqueueFinish()
        statuses.enqueueFinish()
        var teardown = Teardown()
        teardown.readings = consumers.values.flatMap { $0.values.map(\.queue) }
        teardown.tasks = callbacks.values.flatMap { $0.map(\.task) }
        teardown.waiters = pending.removeAll() + commands.removeAll() + lists.removeAll() + histories.removeAll()
        historyRequests.removeAll()
        unsentCommands.removeAll()
        consumers.removeAll()
        callbacks.removeAll()
        // `connection` stays until it ends: the messages sent with this change still go out on it.
        return teardown
    }
}

/// The client's own state: a WebSocket connection, `sensorConnected` callers' continuations.
typealias LiveClientState = ClientState<WebSocketConnection, CheckedContinuation<ClientReply, any Error>>

extension ClientState.Deliveries where StatusWaiter == CheckedContinuation<ClientReply, any Error> {
    /// Resumes the consumers and requests (outside every lock).
    func run() {
        for wake in wakes { wake.resume() }
        for (waiter, reply) in answers { waiter.resume(returning: reply) }
    }
}

extension ClientState.Teardown where StatusWaiter == CheckedContinuation<ClientReply, any Error> {
    /// Finishes the streams, cancels the callbacks, fails the requests (outside the lock).
    func run(error: SensorClientError) {
        readings.forEach { $0.finish().resume() }
        tasks.forEach { $0.cancel() }
        waiters.forEach { $0.resume(throwing: error) }
    }
}
