import WebSocketIO
import SensorWire

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

/// Everything a ``SensorClient`` shares between its tasks; always used under its lock.
/// Stream continuations are finished, and task continuations resumed, only after the lock is
/// released: finishing runs `onTermination` handlers, which take the lock again, and resuming
/// takes the task's status lock, which `Task.cancel()` holds while its cancellation handler
/// waits for ours.
struct ClientState: Sendable {
    enum Lifecycle: Sendable {
        /// `connect()` not called yet (or the first connect failed).
        case notStarted
        /// Connected or reconnecting.
        case running
        /// Disconnected by the app or given up: terminal.
        case closed
    }

    struct Consumer: Sendable {
        let queue: ReadingQueue
        /// The next reading follows a reconnect.
        var followsGap = false
    }

    typealias StatusWaiter = CheckedContinuation<Bool, any Error>

    var lifecycle = Lifecycle.notStarted
    var connection: WebSocketConnection?
    var connectionState = ConnectionState.idle
    var book = SubscriptionBook()
    var pending = PendingRequests<StatusWaiter>()
    var consumers: [String: [UInt64: Consumer]] = [:]
    var callbacks: [String: [(consumerID: UInt64, task: Task<Void, Never>)]] = [:]
    var frameListeners: [UInt64: AsyncStream<RawFrame>.Continuation] = [:]
    var stateListeners: [UInt64: AsyncStream<ConnectionState>.Continuation] = [:]
    var statusListeners: [UInt64: AsyncStream<SensorStatus>.Continuation] = [:]
    var supervisor: Task<Void, Never>?
    var heartbeatFailed = false
    var statistics = ClientStatistics()
    private var lastID: UInt64 = 0

    mutating func makeID() -> UInt64 {
        lastID += 1
        return lastID
    }

    /// Sends a protocol message on the open connection, if any. A failed write means the
    /// connection is going down: the supervisor reconnects and re-sends all state.
    func send(_ message: ClientMessage?) {
        guard let message, let connection else { return }
        try? connection.sendNow(text: SensorProtocol.encode(message.envelope))
    }

    /// Publishes a new connection state to every listener.
    mutating func publish(_ state: ConnectionState) {
        connectionState = state
        for listener in stateListeners.values { listener.yield(state) }
    }

    /// Everything to finish or fail once the client is closed, taken out of the state.
    struct Teardown: Sendable {
        var readings: [ReadingQueue] = []
        var frames: [AsyncStream<RawFrame>.Continuation] = []
        var states: [AsyncStream<ConnectionState>.Continuation] = []
        var statuses: [AsyncStream<SensorStatus>.Continuation] = []
        var tasks: [Task<Void, Never>] = []
        var waiters: [StatusWaiter] = []

        /// Run outside the lock.
        func run(error: SensorClientError) {
            readings.forEach { $0.finish()?.resume() }
            frames.forEach { $0.finish() }
            states.forEach { $0.finish() }
            statuses.forEach { $0.finish() }
            tasks.forEach { $0.cancel() }
            waiters.forEach { $0.resume(throwing: error) }
        }
    }

    /// Closes the client for good: publishes the final state and takes everything out.
    mutating func close(reason: DisconnectReason) -> Teardown {
        lifecycle = .closed
        publish(.disconnected(reason: reason))
        var teardown = Teardown()
        teardown.readings = consumers.values.flatMap { $0.values.map(\.queue) }
        teardown.frames = Array(frameListeners.values)
        teardown.states = Array(stateListeners.values)
        teardown.statuses = Array(statusListeners.values)
        teardown.tasks = callbacks.values.flatMap { $0.map(\.task) } + [supervisor].compactMap { $0 }
        teardown.waiters = pending.removeAll()
        consumers.removeAll()
        callbacks.removeAll()
        frameListeners.removeAll()
        stateListeners.removeAll()
        statusListeners.removeAll()
        supervisor = nil
        connection = nil
        return teardown
    }
}
