import ConnectionCore
import Locking

/// The machinery behind an ``MQTTClient``: the session (``MQTTSession``), the subscriptions
/// and their consumers, publishes waiting for their acknowledgement or a connection, the
/// reconnect driver and the connection hooks. Nothing it runs retains the public object, so
/// an app that lets go of its client shuts it down (the client's `deinit` calls
/// ``shutdown()``).
final class MQTTClientEngine: Sendable {
    typealias Configuration = MQTTClient.Configuration
    /// The client's connection, typed by its codec.
    typealias Connection = CodecConnection<MQTTCodec>

    let host: String
    let port: Int
    let configuration: Configuration

    /// One consumer of a subscription (one `for try await` loop).
    private struct Consumer: Sendable {
        let filter: String
        /// The QoS this loop asked for.
        let qos: MQTTQoS
        let queue: ConsumerQueue<MQTTDelivery>
    }

    /// A filter some consumer holds, and where it stands with the broker.
    private struct Filter: Sendable {
        /// The highest QoS a consumer asked for.
        var qos: MQTTQoS
        /// The broker granted it in the current session.
        var granted = false
        /// The QoS asked for when the broker last granted it in this session: what the filter
        /// falls back to when a higher one is refused.
        var grantedQoS: MQTTQoS?
        /// A SUBSCRIBE for it is on the wire (its packet identifier).
        var pending: UInt16?
    }

    private struct State: Sendable {
        var session = MQTTSession()
        var connection: Connection?
        /// A connection was up once: from then on publishes wait for the next one.
        var connectedOnce = false
        var closed = false
        var consumers: [UInt64: Consumer] = [:]
        var lastConsumer: UInt64 = 0
        var filters: [String: Filter] = [:]
        /// SUBSCRIBE packets waiting for their SUBACK: their filters, in order.
        var subscribing: [UInt16: [String]] = [:]
        /// UNSUBSCRIBE packets waiting for their UNSUBACK: their filters.
        var unsubscribing: [UInt16: [String]] = [:]
        /// Filters no loop holds any more that a kept session (`cleanSession: false`) may still
        /// hold on the broker: unsubscribed after the next CONNACK with the session present.
        var unsubscribeOnReconnect: Set<String> = []
        /// Callers waiting for a QoS 1 or 2 message to complete, by ticket.
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        /// The ticket of each message in flight that a caller waits for.
        var ticketOfPacket: [UInt16: UInt64] = [:]
        var lastTicket: UInt64 = 0
        /// QoS 0 messages published while no connection was up, oldest first.
        var offline: [MQTTPublish] = []
        var statistics = MQTTClient.Statistics()
    }

    private let state = LockedValue(State())
    private let states = Broadcaster<ClientPhase>(bufferingNewest: 64)
    private let currentPhase = LockedValue(ClientPhase.idle)
    private let driver = LockedValue<Reconnector<Connection, String>?>(nil)
    private let clock: any Clock<Duration>

    init(host: String, port: Int, configuration: Configuration, clock: any Clock<Duration>) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.clock = clock
        let hooks = Reconnector<Connection, String>.Hooks(
            open: { [weak self] _ in
                guard let self else { return .failure(.init(reason: "client released", detail: MQTTClientError.closed)) }
                return await self.open()
            },
            replaySession: { [weak self] connection, _ in self?.connected(connection) },
            serve: { [weak self] connection in await self?.serve(connection) ?? "client released" },
            drop: { connection in connection.stream.abort() },
            publish: { [weak self] machineState in self?.publish(machineState) },
            giveUp: { [weak self] reason in self?.shutDown(reason: reason) })
        let keepAlive = configuration.keepAlive
        // A PINGREQ 3/4 of the keep-alive after the previous answer: the interval between two
        // packets from the client never exceeds the keep-alive (MQTT-3.1.2-23).
        // The answer is waited for at most a quarter of it: the next PINGREQ follows the answer
        // by 3/4, so no gap exceeds the keep-alive.
        let pingTimeout = min(configuration.pingTimeout, keepAlive / 4)
        let liveness = keepAlive > .zero ? Reconnector<Connection, String>.Liveness(
            interval: keepAlive * 3 / 4, timeout: pingTimeout,
            reason: "no PINGRESP within \(pingTimeout)",
            probe: { connection in (try? await connection.stream.probe()) != nil },
            pauseEpoch: { connection in connection.stream.readingPauseEpoch }) : nil
        let backoff = Backoff(initialDelay: configuration.reconnectDelay, maxDelay: configuration.maxReconnectDelay,
                              multiplier: 2, jitter: 0.2, maxAttempts: nil)
        driver.withLock {
            $0 = Reconnector(machine: ReconnectMachine<String>(backoff: backoff), hooks: hooks, liveness: liveness, clock: clock)
        }
    }

    // MARK: Starting and stopping

    /// Opens the connection; see ``MQTTClient/connect()``.
    func connect() async throws(MQTTClientError) {
        if let problem = configuration.problem { throw .invalidArgument(problem) }
        guard state.withLock({ !$0.closed }) else { throw .closed }
        guard let driver = driver.withLock({ $0 }) else { throw .closed }
        if let failure = await driver.start() {
            if state.withLock({ $0.closed }) { throw .closed }
            throw failure.detail as? MQTTClientError ?? .connectionFailed(failure.reason)
        }
    }

    /// Closes for good; see ``MQTTClient/disconnect()``.
    func disconnect() async {
        let connection = driver.withLock { $0 }?.close(reason: "closed by the app")
        shutDown(reason: "closed by the app")
        _ = await connection?.stream.close("closed by the app")
    }

    /// The app let go of its client: DISCONNECT and FIN, nothing waited for.
    func shutdown() {
        let connection = driver.withLock { $0 }?.close(reason: "client released")
        shutDown(reason: "client released")
        connection?.stream.startClosing("client released")
    }

    /// The connection's states, starting with the current one; finishes once closed.
    var connectionStates: AsyncStream<ClientPhase> {
        let stream = currentPhase.withLock { states.makeStream(initial: $0) }
        states.deliver()
        return stream
    }

    /// The current state.
    var phase: ClientPhase { currentPhase.withLock { $0 } }

    /// How many consumers (subscription loops) are attached.
    var consumerCount: Int { state.withLock { $0.consumers.count } }

    /// Whether delivery waits for room in a lossless consumer's full queue.
    var isWaitingForConsumer: Bool { state.withLock { $0.consumers.values.contains { $0.queue.isProducerWaiting } } }

    /// The filters the broker granted in the current session, sorted.
    var grantedFilters: [String] { state.withLock { $0.filters.filter(\.value.granted).keys.sorted() } }

    /// The counters.
    var statistics: MQTTClient.Statistics { state.withLock { $0.statistics } }

    // MARK: Publishing

    /// Publishes `message`; see ``MQTTClient/publish(_:)``.
    func publish(_ message: MQTTMessage) async throws(MQTTClientError) {
        guard message.payload.count <= configuration.maxPacketSize else {
            throw .invalidArgument("a payload of \(message.payload.count) bytes is above maxPacketSize")
        }
        let publish = MQTTPublish(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain)
        // Checked whole before the session or a connection sees it: what cannot be encoded
        // (a topic with wildcards, over 65,535 bytes, with U+0000) is the caller's mistake.
        var probe = publish
        if message.qos != .atMostOnce { probe.packetID = 1 }
        do throws(MQTTPacketError) {
            _ = try MQTTPacket.publish(probe).encoded()
        } catch {
            throw .invalidArgument(error.description)
        }
        let (connectedOnce, closed) = state.withLock { ($0.connectedOnce, $0.closed) }
        if closed { throw .closed }
        guard connectedOnce else { throw .notConnected }
        guard !Task.isCancelled else { throw .cancelled }
        if message.qos == .atMostOnce {
            try await publishAtMostOnce(publish)
            return
        }
        do {
            try await ReplyWaiter.wait(timeout: configuration.requestTimeout, clock: clock) { (continuation: CheckedContinuation<Void, any Error>) -> UInt64? in
                submit(publish, continuation)
            } abandon: { [weak self] ticket, why in
                self?.abandon(ticket, with: why == .timedOut ? .timeout : .cancelled)
            }
        } catch let error as MQTTClientError {
            throw error
        } catch {
            throw .cancelled
        }
    }

    /// A QoS 0 message: queued on the connection in the order of the engine's lock, waiting
    /// while the connection's output is over its high-water mark; without a connection, in the
    /// offline queue.
    private func publishAtMostOnce(_ publish: MQTTPublish) async throws(MQTTClientError) {
        while true {
            enum Outcome { case queued(Connection?), full(Connection), closed }
            let outcome = state.withLock { state -> Outcome in
                if state.closed { return .closed }
                guard let connection = state.connection else {
                    Self.queueOffline(publish, in: &state, limit: configuration.offlineQueueLimit)
                    return .queued(nil)
                }
                do throws(ConnectionError) {
                    try connection.enqueue(.publish(publish))
                    return .queued(connection)
                } catch .outboundFull {
                    return .full(connection)
                } catch {
                    // The connection is ending: the next one takes it from the offline queue.
                    Self.queueOffline(publish, in: &state, limit: configuration.offlineQueueLimit)
                    return .queued(nil)
                }
            }
            switch outcome {
            case .closed:
                throw .closed
            case .queued(let connection):
                connection?.stream.flush()
                return
            case .full(let connection):
                // Below the mark the enqueue refuses at, whatever the connection's settings.
                await connection.stream.waitForOutput(below: min(Self.outputLowWater, connection.stream.configuration.outboundHighWater / 2))
                guard !Task.isCancelled else { throw .cancelled }
            }
        }
    }

    /// Appends a QoS 0 message to the offline queue, dropping (and counting) the oldest past
    /// `limit`.
    private static func queueOffline(_ publish: MQTTPublish, in state: inout State, limit: Int) {
        state.offline.append(publish)
        if state.offline.count > limit {
            state.offline.removeFirst()
            state.statistics.publishesDropped += 1
        }
    }

    /// Where a QoS 0 publisher held back by a full output goes on.
    private static let outputLowWater = 1 << 20

    /// Puts a QoS 1 or 2 message in the session and queues it if a connection is up; its
    /// waiter's ticket, or nil when the waiter was resumed here (closed, too many in flight).
    private func submit(_ publish: MQTTPublish, _ continuation: CheckedContinuation<Void, any Error>) -> UInt64? {
        enum Outcome { case waiting(UInt64, Connection?), failed(MQTTClientError) }
        let outcome = state.withLock { state -> Outcome in
            if state.closed { return .failed(.closed) }
            guard state.session.messagesInFlight < configuration.offlineQueueLimit else {
                state.statistics.publishesDropped += 1
                return .failed(.dropped)
            }
            let packet: MQTTPacket
            do throws(MQTTSessionError) {
                packet = try state.session.publish(publish)
            } catch {
                state.statistics.publishesDropped += 1
                return .failed(.dropped)
            }
            guard case .publish(let sent) = packet, let packetID = sent.packetID else { return .failed(.closed) }
            state.lastTicket += 1
            state.waiters[state.lastTicket] = continuation
            state.ticketOfPacket[packetID] = state.lastTicket
            // Without a connection the session resends it after the next CONNACK.
            return .waiting(state.lastTicket, Self.enqueue([packet], on: state.connection))
        }
        switch outcome {
        case .failed(let error):
            continuation.resume(throwing: error)
            return nil
        case .waiting(let ticket, let connection):
            connection?.stream.flush()
            return ticket
        }
    }

    /// The caller of `ticket` stopped waiting; the message stays in the session.
    private func abandon(_ ticket: UInt64, with error: MQTTClientError) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: ticket) }
        waiter?.resume(throwing: error)
    }

    // MARK: Subscribing

    /// A new consumer of `filter`: subscribes when no other consumer holds the filter (or
    /// holds it at a lower QoS), now if connected, else once connected. Its queue ends when
    /// the client closes, or with ``MQTTClientError/subscriptionRefused(filter:)``.
    func attach(_ filter: String, qos: MQTTQoS) -> ConsumerQueue<MQTTDelivery> {
        let queue = ConsumerQueue<MQTTDelivery>(capacity: configuration.subscriptionBufferSize,
                                                lossless: !configuration.subscriptionDropsOldest)
        guard MQTTTopic.isValidFilter(filter),
              (try? MQTTPacket.subscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: filter, qos: qos)]).encoded()) != nil else {
            Self.fail(queue, with: .invalidArgument("\"\(filter)\" is not a valid topic filter"))
            return queue
        }
        enum Outcome { case attached(UInt64, Connection?), closed }
        let outcome = state.withLock { state -> Outcome in
            if state.closed { return .closed }
            // Before the first connection the filter waits: connecting subscribes to it.
            state.lastConsumer += 1
            state.consumers[state.lastConsumer] = Consumer(filter: filter, qos: qos, queue: queue)
            state.unsubscribeOnReconnect.remove(filter)
            var entry = state.filters[filter] ?? Filter(qos: qos)
            let needed = state.filters[filter] == nil || qos > entry.qos
            if needed {
                // A new filter, or a higher QoS: the broker must be asked (again).
                entry.qos = max(entry.qos, qos)
                entry.granted = false
            }
            state.filters[filter] = entry
            guard needed, state.connection != nil, let packet = Self.subscribe([filter], in: &state) else {
                return .attached(state.lastConsumer, nil)
            }
            return .attached(state.lastConsumer, Self.enqueue([packet], on: state.connection))
        }
        switch outcome {
        case .closed:
            queue.finish().resume()
        case .attached(let id, let connection):
            queue.setOnTermination { [weak self] in self?.detach(id) }
            connection?.stream.flush()
        }
        return queue
    }

    /// Ends a consumer's queue with `error`, after what it holds.
    private static func fail(_ queue: ConsumerQueue<MQTTDelivery>, with error: MQTTClientError) {
        queue.push(.failed(error)).wake?.resume()
        queue.finish().resume()
    }

    /// A SUBSCRIBE for `filters` at their QoS, recorded as pending.
    private static func subscribe(_ filters: [String], in state: inout State) -> MQTTPacket? {
        let subscriptions = filters.compactMap { filter in state.filters[filter].map { MQTTSubscription(filter: filter, qos: $0.qos) } }
        guard !subscriptions.isEmpty, let (packetID, packet) = try? state.session.subscribe(subscriptions) else { return nil }
        state.subscribing[packetID] = subscriptions.map(\.filter)
        for subscription in subscriptions { state.filters[subscription.filter]?.pending = packetID }
        return packet
    }

    /// A consumer ended: unsubscribes when it held the last hold on its filter (now, or for
    /// a kept session after the next CONNACK).
    private func detach(_ id: UInt64) {
        let connection = state.withLock { state -> Connection? in
            guard let consumer = state.consumers.removeValue(forKey: id) else { return nil }
            guard !state.consumers.values.contains(where: { $0.filter == consumer.filter }),
                  let filter = state.filters.removeValue(forKey: consumer.filter), !state.closed else { return nil }
            guard filter.granted || filter.pending != nil || !configuration.cleanSession else { return nil }
            guard state.connection != nil, let (packetID, packet) = try? state.session.unsubscribe([consumer.filter]) else {
                if !configuration.cleanSession { state.unsubscribeOnReconnect.insert(consumer.filter) }
                return nil
            }
            state.unsubscribing[packetID] = [consumer.filter]
            return Self.enqueue([packet], on: state.connection)
        }
        connection?.stream.flush()
    }

    /// Queues `packets` on `connection` (under the engine's lock, so the wire's order is the
    /// session's); returns the connection to flush after the lock, nil when there is none or
    /// it is ending (then the session resends what needs it on the next one).
    private static func enqueue(_ packets: [MQTTPacket], on connection: Connection?) -> Connection? {
        guard let connection, !packets.isEmpty else { return nil }
        // Each on its own: one the connection refuses does not keep the others back.
        var queued = false
        for packet in packets where (try? connection.stream.enqueueUnbounded(packet)) != nil { queued = true }
        return queued ? connection : nil
    }

    // MARK: Connection hooks

    private func open() async -> Result<Connection, Reconnector<Connection, String>.OpenFailure> {
        let handshake: MQTTConnectHandshake
        do throws(MQTTPacketError) {
            handshake = try MQTTConnectHandshake(connect: configuration.connectPacket)
        } catch {
            return .failure(.init(reason: error.description, detail: MQTTClientError.invalidArgument(error.description)))
        }
        do {
            let stream = try await StreamConnector.open(
                host: host, port: port, codec: MQTTCodec(maximumPacketSize: configuration.maxPacketSize), handshake: handshake,
                timeout: configuration.connectTimeout, tls: configuration.tls)
            return .success(Connection(stream))
        } catch .handshake(let error as MQTTClientError) {
            return .failure(.init(reason: error.description, detail: error))
        } catch .cancelled {
            return .failure(.init(reason: "cancelled", detail: MQTTClientError.cancelled))
        } catch {
            let reason = error.description
            return .failure(.init(reason: reason, detail: MQTTClientError.connectionFailed(reason)))
        }
    }

    /// A connection is up (CONNACK accepted): what the session resends, the subscriptions
    /// the broker does not hold (and, for a kept session, UNSUBSCRIBE for those no loop holds
    /// any more), then the QoS 0 messages published meanwhile. All queued under the lock, so
    /// a publish made meanwhile follows them.
    private func connected(_ connection: Connection) {
        let sessionPresent = (connection.stream.handshakeResult as? MQTTConnAck)?.sessionPresent ?? false
        let flush = state.withLock { state -> Connection? in
            state.connection = connection
            state.connectedOnce = true
            var packets = state.session.resume(sessionPresent: sessionPresent)
            if !sessionPresent {
                for filter in state.filters.keys {
                    state.filters[filter]?.granted = false
                    state.filters[filter]?.grantedQoS = nil
                }
                state.unsubscribeOnReconnect = []
            } else if !state.unsubscribeOnReconnect.isEmpty,
                      let (packetID, packet) = try? state.session.unsubscribe(state.unsubscribeOnReconnect.sorted()) {
                state.unsubscribing[packetID] = state.unsubscribeOnReconnect.sorted()
                packets.append(packet)
                state.unsubscribeOnReconnect = []
            }
            let missing = state.filters.filter { !$0.value.granted && $0.value.pending == nil }.keys.sorted()
            if let subscribe = Self.subscribe(missing, in: &state) { packets.append(subscribe) }
            packets += state.offline.map { .publish($0) }
            state.offline = []
            return Self.enqueue(packets, on: connection)
        }
        flush?.stream.flush()
    }

    /// Reads the broker's packets until the connection ends; says why it ended.
    private func serve(_ connection: Connection) async -> String {
        var reason = "connection closed by the broker"
        reading: while let batch = await connection.receiveBatch() {
            for item in batch {
                switch item {
                case .message(let packets):
                    for packet in packets {
                        switch received(packet, on: connection) {
                        case .failure(let error):
                            reason = error.description
                            connection.stream.abort()
                            break reading
                        case .success(let effects):
                            await carryOut(effects)
                        }
                    }
                case .failed(let failure):
                    reason = failure.description
                    connection.stream.abort()
                    break reading
                }
            }
        }
        state.withLock { state in
            if state.connection == connection { state.connection = nil }
            // A clean session ends with its connection: the broker holds nothing any more.
            if configuration.cleanSession {
                for filter in state.filters.keys {
                    state.filters[filter]?.granted = false
                    state.filters[filter]?.grantedQoS = nil
                }
            }
            // Unanswered SUBSCRIBEs are sent again after the next CONNACK; an unanswered
            // UNSUBSCRIBE of a kept session, too.
            for packetID in state.session.connectionLost() {
                for filter in state.subscribing.removeValue(forKey: packetID) ?? [] where state.filters[filter]?.pending == packetID {
                    state.filters[filter]?.pending = nil
                }
                for filter in state.unsubscribing.removeValue(forKey: packetID) ?? []
                where !configuration.cleanSession && state.filters[filter] == nil {
                    state.unsubscribeOnReconnect.insert(filter)
                }
            }
        }
        return reason
    }

    /// What one broker packet asks of the client, collected under the lock and carried out
    /// after it.
    private struct Effects: Sendable {
        var reaction: MQTTSession.Reaction
        /// The consumers whose filter matches the delivered message.
        var receivers: [Consumer] = []
        /// Consumers whose subscription the broker refused, with the filter.
        var refused: [(Consumer, String)] = []
        /// The caller whose QoS 1 or 2 message is now complete.
        var completed: CheckedContinuation<Void, any Error>?
        /// The connection to flush (answers were queued on it).
        var flush: Connection?
    }

    /// What one packet from the broker changes, under the lock; a failure when it breaks the
    /// protocol (the connection must then be dropped).
    private func received(_ packet: MQTTPacket, on connection: Connection) -> Result<Effects, MQTTSessionError> {
        state.withLock { state -> Result<Effects, MQTTSessionError> in
            var effects: Effects
            do throws(MQTTSessionError) {
                effects = Effects(reaction: try state.session.receive(packet))
            } catch {
                return .failure(error)
            }
            // The answers it owes, in the session's order.
            effects.flush = Self.enqueue(effects.reaction.send, on: connection)
            if let message = effects.reaction.deliver {
                state.statistics.messagesReceived += 1
                effects.receivers = state.consumers.values.filter { MQTTTopic.matches(filter: $0.filter, name: message.topic) }
            }
            switch effects.reaction.completed {
            case .subscribed(let packetID, let codes)?:
                let filters = state.subscribing.removeValue(forKey: packetID) ?? []
                for (filter, code) in zip(filters, codes) where state.filters[filter]?.pending == packetID {
                    state.filters[filter]?.pending = nil
                    guard code == .failure else {
                        state.filters[filter]?.granted = true
                        let asked = state.filters[filter]?.qos
                        state.filters[filter]?.grantedQoS = asked
                        continue
                    }
                    // Refused. A filter the broker holds at a lower QoS keeps it, and only the
                    // loops that asked for more end; a new one ends all of its loops.
                    let fallback = state.filters[filter]?.grantedQoS
                    if let fallback {
                        state.filters[filter]?.qos = fallback
                        state.filters[filter]?.granted = true
                    } else {
                        state.filters[filter] = nil
                    }
                    for (id, consumer) in state.consumers where consumer.filter == filter && fallback.map({ consumer.qos > $0 }) ?? true {
                        state.consumers[id] = nil
                        effects.refused.append((consumer, filter))
                    }
                }
            case .published(let packetID)?:
                if let ticket = state.ticketOfPacket.removeValue(forKey: packetID) {
                    effects.completed = state.waiters.removeValue(forKey: ticket)
                }
            case .unsubscribed(let packetID)?:
                state.unsubscribing[packetID] = nil
            case nil:
                break
            }
            return .success(effects)
        }
    }

    /// Carries out what a packet asked for, outside the lock: the answers it owes, the
    /// message for every matching consumer (a lossless consumer's full queue is waited for:
    /// reading pauses, and the broker is held back by TCP), the completed publish, the
    /// refused subscriptions.
    private func carryOut(_ effects: Effects) async {
        effects.flush?.stream.flush()
        if let message = effects.reaction.deliver {
            let delivered = MQTTDelivery.message(MQTTMessage(topic: message.topic, payload: message.payload, qos: message.qos, retain: message.retain))
            var dropped = 0
            for consumer in effects.receivers {
                if consumer.queue.isLossless {
                    while !consumer.queue.hasRoom && !Task.isCancelled { await consumer.queue.waitForRoom() }
                }
                let (wasDropped, wake) = consumer.queue.push(delivered)
                wake?.resume()
                if wasDropped { dropped += 1 }
            }
            if dropped > 0 { state.withLock { $0.statistics.messagesDropped += dropped } }
        }
        effects.completed?.resume()
        for (consumer, filter) in effects.refused {
            Self.fail(consumer.queue, with: .subscriptionRefused(filter: filter))
        }
    }

    // MARK: States

    private func publish(_ machineState: ReconnectMachine<String>.State) {
        currentPhase.withLock { current in
            current = switch machineState {
            case .idle: .idle
            case .connecting(let attempt): .connecting(attempt: attempt)
            case .connected: .connected
            case .backingOff(let attempt, let delay, let reason): .reconnecting(attempt: attempt, delay: delay, reason: reason)
            case .closed(let reason): .closed(reason: reason)
            }
            _ = states.enqueue(current)
        }
        states.deliver()
        if case .backingOff = machineState { state.withLock { $0.statistics.reconnects += 1 } }
    }

    /// Ends everything: waiters fail with ``MQTTClientError/closed``, streams finish.
    private func shutDown(reason: String) {
        let (waiters, consumers, first) = state.withLock { state -> ([CheckedContinuation<Void, any Error>], [Consumer], Bool) in
            let first = !state.closed
            state.closed = true
            defer {
                state.waiters = [:]
                state.consumers = [:]
                state.ticketOfPacket = [:]
            }
            return (Array(state.waiters.values), Array(state.consumers.values), first)
        }
        for waiter in waiters { waiter.resume(throwing: MQTTClientError.closed) }
        for consumer in consumers { consumer.queue.finish().resume() }
        guard first else { return }
        currentPhase.withLock { current in
            if case .closed = current { return }
            current = .closed(reason: reason)
            _ = states.enqueue(current)
        }
        states.finish()
    }
}
