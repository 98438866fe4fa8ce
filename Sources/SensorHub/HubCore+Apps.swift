import SensorWire

extension HubCore {
    /// The app protocol, already checked against the role and right: limits first (a command
    /// or history request past them gets 429, anything else closes 1008), then status, subscriptions, the sensor
    /// list, statistics and commands (forwarded to the device's agent, or answered 404).
    mutating func handleApp(_ message: ClientMessage, from peer: PeerID, standing: inout Peer, now: Duration, into effects: inout HubEffects) {
        if let exceeded = limitExceeded(by: message, from: peer, standing: &standing, now: now) {
            switch exceeded {
            case .answer(let answer):
                counters.limitsExceeded += 1
                effects.deliveries.append(HubState.Delivery(message: answer, recipients: [peer]))
            case .close(let reason):
                refuse(.limit(reason), into: &effects)
            }
            return
        }
        if !standing.announced {
            standing.announced = true
            effects.events.append(.appConnected(peer: peer, address: standing.address))
        }
        switch message {
        case .command(let requestID, let sensorID, let service, let data):
            switch commands.command(from: peer, requestID: requestID, deviceID: sensorID, service: service, data: data,
                                    agent: devices.agentPeer(serving: sensorID), now: now) {
            case .answer(let answer):
                effects.deliveries.append(HubState.Delivery(message: answer, recipients: [peer]))
            case .forward(let agent, let command, let deadline):
                effects.forwards.append(HubEffects.Forward(agent: agent, text: SensorProtocol.encode(command.envelope), deadline: deadline))
            }
        case .statistics:
            let counters: JSONValue = [
                "apps": .number(Double(peers.count - agents.count)), "agents": .number(Double(agents.count)),
                "sensors": .number(Double(state.connectedSensors.count)),
                "readings_delivered": .number(Double(self.counters.delivered)), "readings_dropped": .number(Double(self.counters.dropped)),
                "protocol_violations": .number(Double(self.counters.violations)), "commands_forbidden": .number(Double(self.counters.forbidden)),
                "limits_exceeded": .number(Double(self.counters.limitsExceeded)), "messages_dropped": .number(Double(self.counters.messagesDropped)),
                "upgrades_refused": .number(Double(self.counters.upgradesRefused)),
                "history_dropped": .number(Double(self.counters.historyDropped)), "history_recorded": .bool(recordsReadings),
            ]
            effects.deliveries.append(HubState.Delivery(message: .statistics(counters), recipients: [peer]))
        case .listSensors:
            effects.deliveries.append(HubState.Delivery(message: .sensorList(devices.sensorList(legacy: state.connectedSensors)), recipients: [peer]))
        case .history(let request):
            switch HistoryQuery.make(request, recorded: recordsReadings) {
            case .success(let query):
                standing.historyReads += 1
                historyReadsInFlight += 1
                effects.historyReads.append(HubEffects.HistoryRead(peer: peer, query: query))
            case .failure(let refusal): effects.deliveries.append(HubState.Delivery(message: refusal.answer, recipients: [peer]))
            }
        case .invalidHistory(let invalid):
            let answer = HistoryQuery.Refusal(requestID: invalid.requestID, status: 400, reason: invalid.reason).answer
            effects.deliveries.append(HubState.Delivery(message: answer, recipients: [peer]))
        default:
            effects.deliveries += state.handle(message, from: peer)
        }
        // Reported once handled: an observer that sees a subscribe can rely on it.
        effects.events.append(.appMessage(peer: peer, message))
    }

    /// A history read of `peer` was answered (or its connection is gone): it no longer counts
    /// against the limits.
    package mutating func historyReadFinished(_ peer: PeerID) {
        assert(historyReadsInFlight > 0, "a history read finished twice")
        historyReadsInFlight -= 1
        if let standing = peers[peer] {
            assert(standing.historyReads > 0, "a history read of \(peer) finished twice")
            peers[peer]?.historyReads = standing.historyReads - 1
        }
    }

    /// What a request past a per-connection limit gets.
    enum LimitExceeded {
        /// An answer (a command: 429); the connection stays.
        case answer(ServerMessage)
        /// Close with 1008 for this reason.
        case close(String)
    }

    /// Checks an app's message against ``HubLimits`` (taking from the connection's buckets);
    /// nil when it is within them.
    func limitExceeded(by message: ClientMessage, from peer: PeerID, standing: inout Peer, now: Duration) -> LimitExceeded? {
        switch message {
        case .subscribe(let id):
            let over = state.subscriptionCount(of: peer) >= limits.subscriptionsPerConnection && !state.subscribers(of: id).contains(peer)
            return over ? .close("more than \(limits.subscriptionsPerConnection) subscriptions") : nil
        case .command(let requestID, _, _, _):
            let reason: String
            if commands.waitingCount(of: peer) >= limits.pendingCommandsPerConnection {
                reason = "more than \(limits.pendingCommandsPerConnection) commands waiting for their agents"
            } else if !standing.commandBucket.take(at: now) {
                reason = "more than \(limits.commandsPerSecond) commands a second"
            } else {
                return nil
            }
            return .answer(.commandResponse(requestID: requestID, status: 429, data: ["error": .string(reason)]))
        case .history(let request):
            let status: Int
            let reason: String
            if standing.historyReads >= limits.pendingHistoryReadsPerConnection {
                (status, reason) = (429, "more than \(limits.pendingHistoryReadsPerConnection) history requests waiting for the store")
            } else if historyReadsInFlight >= limits.historyReadsAtOnce {
                (status, reason) = (503, "the hub is reading \(limits.historyReadsAtOnce) histories at once; try again")
            } else if !standing.historyBucket.take(at: now) {
                (status, reason) = (429, "more than \(limits.historyRequestsPerSecond) history requests a second")
            } else {
                return nil
            }
            return .answer(HistoryQuery.Refusal(requestID: request.requestID, status: status, reason: reason).answer)
        case .invalidHistory(let invalid):
            // Answered 400 without reading, but taken from the same bucket: a stream of them
            // costs the hub as much as the valid ones.
            guard !standing.historyBucket.take(at: now) else { return nil }
            let reason = "more than \(limits.historyRequestsPerSecond) history requests a second"
            return .answer(HistoryQuery.Refusal(requestID: invalid.requestID, status: 429, reason: reason).answer)
        case .listSensors, .statistics:
            return standing.listBucket.take(at: now) ? nil : .close("more than \(limits.listsPerSecond) list or statistics requests a second")
        default:
            return nil
        }
    }
}
