import WebSocketCore
import WebSocketIO
import SensorWire

extension SensorClient {
    /// Opens one WebSocket connection.
    func open() async throws(SensorClientError) -> WebSocketConnection {
        let limits = WebSocketSession.Configuration(maxFrameSize: configuration.maxMessageSize,
                                                    maxMessageSize: configuration.maxMessageSize)
        let webSocketConfiguration = WebSocketConfiguration(limits: limits, connectTimeout: configuration.connectTimeout,
                                                            handshakeTimeout: configuration.connectTimeout)
        do {
            return try await WebSocketConnection.connect(host: host, port: port, path: configuration.path,
                                                         configuration: webSocketConfiguration)
        } catch .cancelled {
            throw .disconnected
        } catch .handshakeFailed(let failure) where failure != .connectionClosed {
            // The server answered, but not as RFC 6455 requires.
            throw .protocolViolation("handshake: \(failure)")
        } catch {
            throw .connectionFailed(reason: error.description)
        }
    }

    /// Makes `connection` the current one and sends the session's whole state on it:
    /// `client_connect`, every active subscription, every awaited status request.
    /// Returns false (and sends nothing) if the client was closed meanwhile.
    func attach(_ connection: WebSocketConnection, isReconnect: Bool) -> Bool {
        state.withLock { state in
            guard state.lifecycle == .running else { return false }
            state.connection = connection
            state.heartbeatFailed = false
            state.send(.connect)
            for sensorID in state.book.activeSensors { state.send(.subscribe(sensorID: sensorID)) }
            for sensorID in state.pending.awaitedSensors { state.send(.connectionStatus(sensorID: sensorID)) }
            if isReconnect {
                state.statistics.reconnects += 1
                for sensorID in state.consumers.keys {
                    for id in state.consumers[sensorID, default: [:]].keys { state.consumers[sensorID]?[id]?.followsGap = true }
                }
            }
            state.publish(.connected)
            return true
        }
    }

    /// Runs connections one after another until the client is closed: reads each until it
    /// ends, then reconnects with backoff.
    func supervise(_ first: WebSocketConnection) async {
        var connection = first
        let backoff = configuration.reconnect.backoff
        var generator = SystemRandomNumberGenerator()
        while true {
            var reason = await run(connection)
            guard detach(connection) else { return }
            var attempt = 1
            while true {
                guard let delay = backoff.delay(beforeAttempt: attempt, unitRandom: Double.random(in: 0...1, using: &generator)) else {
                    giveUp(reason)
                    return
                }
                let proceed = state.withLock { state in
                    guard state.lifecycle == .running else { return false }
                    state.publish(.reconnecting(attempt: attempt, delay: delay, reason: reason))
                    return true
                }
                guard proceed else { return }
                do {
                    try await clock.sleep(for: delay)
                } catch {
                    return  // cancelled: disconnect()
                }
                guard state.withLock({ state in
                    guard state.lifecycle == .running else { return false }
                    state.publish(.connecting(attempt: attempt))
                    return true
                }) else { return }
                do {
                    let next = try await open()
                    guard attach(next, isReconnect: true) else {
                        await next.close()
                        return
                    }
                    connection = next
                    break
                } catch {
                    reason = DisconnectReason(closeCode: nil, message: error.description)
                    attempt += 1
                }
            }
        }
    }

    /// Reads one connection until it ends (with a heartbeat beside it) and says why it ended.
    private func run(_ connection: WebSocketConnection) async -> DisconnectReason {
        await withTaskGroup(of: Void.self) { group in
            if configuration.heartbeat.isEnabled {
                group.addTask { await self.heartbeat(connection) }
            }
            while let batch = await connection.receiveBatch() {
                handle(batch)
            }
            group.cancelAll()
        }
        let closure = await connection.closed()
        if state.withLock({ $0.heartbeatFailed }) {
            return DisconnectReason(closeCode: nil, message: "no pong within \(configuration.heartbeat.timeout.formattedSeconds)")
        }
        if let error = closure.error {
            return DisconnectReason(closeCode: Int(error.closeCode.rawValue), message: "protocol violation: \(error)")
        }
        return DisconnectReason(closeCode: Int(closure.code.rawValue), message: closure.reason.isEmpty
                                ? (closure.code == .abnormalClosure ? "connection lost" : "") : closure.reason)
    }

    /// Pings every interval; no pong within the timeout drops the connection.
    private func heartbeat(_ connection: WebSocketConnection) async {
        let heartbeat = configuration.heartbeat
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: heartbeat.interval)
            } catch {
                return
            }
            let answered = await withTaskGroup(of: Bool.self) { group in
                group.addTask { (try? await connection.ping()) != nil }
                group.addTask {
                    do {
                        try await self.clock.sleep(for: heartbeat.timeout)
                    } catch {
                        return true  // cancelled because the pong came
                    }
                    // Ends the ping above too: the connection is gone.
                    self.state.withLock { $0.heartbeatFailed = true }
                    connection.abort()
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if !answered { return }
        }
    }

    /// The connection ended: forget it. Returns false if the client is closed (no reconnect).
    private func detach(_ connection: WebSocketConnection) -> Bool {
        state.withLock { state in
            if state.connection === connection { state.connection = nil }
            return state.lifecycle == .running
        }
    }

    /// Reconnecting is exhausted: the client closes for good.
    private func giveUp(_ reason: DisconnectReason) {
        let teardown = state.withLock { state -> ClientState.Teardown? in
            guard state.lifecycle == .running else { return nil }
            return state.close(reason: DisconnectReason(closeCode: reason.closeCode, message: "gave up reconnecting after \(reason)"))
        }
        teardown?.run(error: .notConnected)
    }

    /// Dispatches a batch of messages from the server: decoded outside the lock, delivered
    /// under one lock acquisition, waiting requests resumed after it.
    private func handle(_ batch: [WebSocketMessage]) {
        let decoded: [(RawFrame, ServerMessage?)] = batch.map { message in
            switch message {
            case .text(let text): (.text(text), ServerMessage.decode(text))
            case .binary(let bytes): (.binary(bytes), nil)
            }
        }
        var answers: [(ClientState.StatusWaiter, Bool)] = []
        var wakes: [ReadingQueue.Waiter] = []
        state.withLock { state in
            for (raw, message) in decoded {
                for listener in state.frameListeners.values { listener.yield(raw) }
                switch message {
                case nil:
                    state.statistics.messagesSkipped += 1
                case .connectionStatus(let sensorID, let connected)?:
                    answers += state.pending.answer(sensorID).map { ($0, connected) }
                    let status = SensorStatus(sensorID: sensorID, connected: connected)
                    for listener in state.statusListeners.values { listener.yield(status) }
                case .sensorData(let sensorID, let readings)?:
                    guard var consumers = state.consumers[sensorID] else { continue }
                    state.statistics.readingsReceived += 1
                    for (id, consumer) in consumers {
                        let reading = SensorReading(sensorID: sensorID, readings: readings, followsGap: consumer.followsGap)
                        let (dropped, wake) = consumer.queue.push(reading)
                        if dropped { state.statistics.readingsDropped += 1 }
                        if let wake { wakes.append(wake) }
                        if consumer.followsGap { consumers[id]?.followsGap = false }
                    }
                    state.consumers[sensorID] = consumers
                }
            }
        }
        for wake in wakes { wake.resume() }
        for (waiter, connected) in answers { waiter.resume(returning: connected) }
    }
}
