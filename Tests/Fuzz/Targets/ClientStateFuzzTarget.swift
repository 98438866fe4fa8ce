import ConnectionCore
import SensorStream
import SensorWire
import WebSocketIO

/// Fuzzing of the client's sans-I/O state, the very ``ClientState`` the client runs (with
/// plain tokens for its connection and request waiters): a script of app calls, server
/// messages (arbitrary bytes or well-formed ones), connections opening and ending, checked
/// step by step against a deliberately naive model: the exact messages sent, the waiters each
/// answer resolves, the readings each consumer queue gets, the counters.
///
/// Input: a sequence of operations; each starts with an opcode byte and a sensor byte.
enum ClientStateFuzzTarget {
    /// Few ids, so that operations collide on the same sensors; odd ones included.
    static let sensorIDs = ["A01-S1", "A01-S2", "", "é\u{0}\"", "A01-S1 "]
    /// Small, so that readings overflow it.
    static let queueCapacity = 2

    final class Connection: Sendable {}
    typealias State = ClientState<Connection, UInt64>

    /// The naive model: what the client should want, computed from scratch.
    struct Model {
        var explicit: Set<String> = []
        /// Consumers per sensor: id → readings buffered in its queue (by value).
        var consumers: [String: [UInt64: [JSONValue]]] = [:]
        /// The consumers with a lossless queue.
        var lossless: Set<UInt64> = []
        var waiters: [String: [UInt64]] = [:]
        var requests: [UInt64: UInt64] = [:]
        /// History requests waiting, by request id: their waiter and what they asked.
        var histories: [String: (waiter: UInt64, request: HistoryRequest)] = [:]
        var connected = false
        var received = 0
        var dropped = 0
        var skipped = 0
        var withoutConsumer = 0
        var losslessWaits = 0

        func isActive(_ id: String) -> Bool { explicit.contains(id) || !(consumers[id]?.isEmpty ?? true) }
        var active: [String] { sensorIDs.filter(isActive).sorted() }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        var state = State()
        state.lifecycle = .running
        var model = Model()
        var queues: [UInt64: (sensorID: String, queue: ReadingQueue)] = [:]
        var nextWaiter: UInt64 = 1000
        var bytes = input[...]

        func expectSent(_ expected: [ClientMessage], _ what: @autoclosure () -> String) {
            let sent = state.takeOutbox()
            precondition(sent == (model.connected ? expected : []), "\(what()): sent \(sent), expected \(expected)")
        }

        while let opcode = bytes.popFirst(), let sensorByte = bytes.popFirst() {
            let id = sensorIDs[Int(sensorByte) % sensorIDs.count]
            switch opcode % 14 {
            case 0:
                let wasActive = model.isActive(id)
                state.subscribe(id)
                model.explicit.insert(id)
                expectSent(wasActive ? [] : [.subscribe(sensorID: id)], "subscribe")
            case 1:
                let teardown = state.unsubscribe(id)
                let ended = Set((model.consumers.removeValue(forKey: id) ?? [:]).keys)
                model.explicit.remove(id)
                precondition(Set(teardown.readings.map(ObjectIdentifier.init)) == Set(ended.compactMap { queues[$0].map { ObjectIdentifier($0.queue) } }),
                             "unsubscribe ended the wrong consumers")
                for consumer in ended {
                    queues[consumer] = nil
                    model.lossless.remove(consumer)
                }
                expectSent([.unsubscribe(sensorID: id)], "unsubscribe")
            case 2:
                let wasActive = model.isActive(id)
                let lossless = opcode & 0x80 != 0
                let queue = ReadingQueue(capacity: queueCapacity, lossless: lossless)
                let consumer = state.addConsumer(id, queue: queue)
                precondition(queues[consumer] == nil, "consumer ids repeat")
                queues[consumer] = (id, queue)
                model.consumers[id, default: [:]][consumer] = []
                if lossless { model.lossless.insert(consumer) }
                expectSent(wasActive ? [] : [.subscribe(sensorID: id)], "addConsumer")
            case 3:
                // Removes one of the sensor's consumers (or a stale id: nothing happens).
                let candidates = (model.consumers[id] ?? [:]).keys.sorted()
                let consumer = candidates.isEmpty ? UInt64.max : candidates[Int(sensorByte) % candidates.count]
                state.removeConsumer(id, id: consumer)
                if model.consumers[id]?.removeValue(forKey: consumer) != nil {
                    if model.consumers[id]?.isEmpty == true { model.consumers[id] = nil }
                    queues[consumer] = nil
                    model.lossless.remove(consumer)
                    expectSent(model.isActive(id) ? [] : [.unsubscribe(sensorID: id)], "removeConsumer")
                } else {
                    expectSent([], "removing a consumer that does not exist")
                }
            case 4:
                nextWaiter += 1
                let isFirst = model.waiters[id] == nil
                let request = state.requestStatus(id, nextWaiter)
                precondition(model.requests[request] == nil, "request ids repeat")
                model.requests[request] = nextWaiter
                model.waiters[id, default: []].append(nextWaiter)
                expectSent(isFirst ? [.connectionStatus(sensorID: id)] : [], "only the first request for a sensor is sent")
            case 5:
                let requests = model.requests.keys.sorted()
                guard !requests.isEmpty else { continue }
                let request = requests[Int(sensorByte) % requests.count]
                let removed = state.cancelRequest(request)
                let waiter = model.requests.removeValue(forKey: request)
                let stillWaiting = model.waiters.values.contains { $0.contains(waiter ?? 0) }
                    || model.histories.values.contains { $0.waiter == waiter }
                model.histories = model.histories.filter { $0.value.waiter != waiter }
                precondition(removed == (stillWaiting ? waiter : nil), "cancelRequest returned \(String(describing: removed))")
                for (sensor, list) in model.waiters {
                    let remaining = list.filter { $0 != waiter }
                    model.waiters[sensor] = remaining.isEmpty ? nil : remaining
                }
                expectSent([], "cancelling sends nothing")
            case 6:
                // Arbitrary server bytes, as a text or a binary message.
                let length = min(Int(sensorByte), bytes.count)
                let payload = Array(bytes.prefix(length))
                bytes = bytes.dropFirst(length)
                let message: WebSocketMessage = opcode & 0x80 == 0 ? .text(String(decoding: payload, as: UTF8.self)) : .binary(payload)
                deliver(message, state: &state, model: &model, queues: queues)
            case 7:
                let connected = opcode & 0x40 == 0
                let text = #"{"event":"sensor_connection_status","data":{"sensor_id":"# + quoted(id) + #","connected":\#(connected)}}"#
                deliver(.text(text), state: &state, model: &model, queues: queues)
            case 8:
                let text = #"{"event":"new_sensor_data","data":{"sensor_id":"# + quoted(id) + #","sensor_readings":{"t":\#(sensorByte)}}}"#
                deliver(.text(text), state: &state, model: &model, queues: queues)
            case 9:
                // A connection opens: the whole session goes out on it, in this order.
                state.replay(on: Connection(), isReconnect: opcode & 0x40 != 0)
                model.connected = true
                let expected: [ClientMessage] = [.connect] + model.active.map { .subscribe(sensorID: $0) }
                    + model.waiters.keys.sorted().map { .connectionStatus(sensorID: $0) }
                    + model.histories.keys.sorted().compactMap { model.histories[$0].map { .history($0.request) } }
                expectSent(expected, "replay")
            case 10:
                if let connection = state.connection { state.connectionEnded(connection) }
                model.connected = false
            case 12:
                nextWaiter += 1
                let request = HistoryRequest(requestID: "h\(nextWaiter)", sensorID: id, field: opcode & 0x80 == 0 ? nil : "t",
                                             from: 0, to: Int64(sensorByte))
                let requestToken = state.requestHistory(request, nextWaiter)
                precondition(model.requests[requestToken] == nil, "request ids repeat across tables")
                model.requests[requestToken] = nextWaiter
                model.histories[request.requestID] = (nextWaiter, request)
                expectSent([.history(request)], "a history request is sent at once")
            case 13:
                // The answer to a waiting history request (or to one nobody waits for).
                let waiting = model.histories.keys.sorted()
                let requestID = waiting.isEmpty || opcode & 0x80 != 0 ? "h-unknown" : waiting[Int(sensorByte) % waiting.count]
                let text = #"{"event":"sensor_history_response","data":{"request_id":"# + quoted(requestID)
                    + #"","status":200,"data":{"sensor_id":"S","from":0,"to":1,"series":{"t":[[0,1,1,1,1]]}}}}"#
                deliver(.text(text), state: &state, model: &model, queues: queues)
            default:
                // A consumer takes what its queue holds: exactly the model's readings, in order.
                for (consumer, entry) in queues where entry.sensorID == id {
                    let taken = entry.queue.takeBuffered()
                    precondition(taken.map(\.readings) == model.consumers[id]?[consumer], "consumer \(consumer) took \(taken)")
                    precondition(taken.allSatisfy { $0.sensorID == id }, "a reading went to another sensor's consumer")
                    model.consumers[id]?[consumer] = []
                }
            }
            for sensor in sensorIDs { precondition(state.book.isActive(sensor) == model.isActive(sensor)) }
            let statistics = state.statistics
            precondition(statistics.readingsReceived == model.received && statistics.readingsDropped == model.dropped
                         && statistics.messagesSkipped == model.skipped && statistics.readingsWithoutConsumer == model.withoutConsumer
                         && statistics.losslessWaits == model.losslessWaits, "statistics \(statistics)")
        }

        // The app disconnects: `client_disconnect` goes out (if connected), every waiter and queue is handed back.
        guard let teardown = state.disconnect(reason: DisconnectReason(closeCode: 1000, message: "fuzz")) else {
            preconditionFailure("a running state must close")
        }
        expectSent([.disconnect], "disconnect")
        precondition(teardown.waiters.sorted() == (model.waiters.values.flatMap { $0 } + model.histories.values.map(\.waiter)).sorted(),
                     "teardown lost waiters")
        precondition(teardown.readings.count == queues.count, "teardown lost consumer queues")
        precondition(state.disconnect(reason: DisconnectReason(closeCode: 1000, message: "again")) == nil, "closing twice")
    }

    /// Hands a server message to the state the way the client does (decode, then receive) and
    /// checks what it resolved and delivered.
    static func deliver(_ message: WebSocketMessage, state: inout State, model: inout Model,
                        queues: [UInt64: (sensorID: String, queue: ReadingQueue)]) {
        let batch = State.decode([message])
        let deliveries = state.receive(batch)
        precondition(state.takeOutbox().isEmpty, "receiving sends nothing")
        switch batch[0].1 {
        case .historyResponse(let requestID, _, _)?:
            guard let waiting = model.histories.removeValue(forKey: requestID) else {
                model.skipped += 1
                precondition(deliveries.answers.isEmpty, "an answer nobody waits for resolved someone")
                return
            }
            precondition(deliveries.answers.map(\.0) == [waiting.waiter], "a history answer resolved the wrong waiter")
            model.requests = model.requests.filter { $0.value != waiting.waiter }
        case nil, .commandResponse?, .sensorList?, .statistics?:
            model.skipped += 1
            precondition(deliveries.answers.isEmpty)
        case .connectionStatus(let sensorID, let connected)?:
            let expected = model.waiters.removeValue(forKey: sensorID) ?? []
            precondition(deliveries.answers.map(\.0) == expected, "an answer resolved the wrong waiters")
            precondition(deliveries.answers.allSatisfy { $0.1 == .status(connected) })
            model.requests = model.requests.filter { !expected.contains($0.value) }
        case .sensorData(let sensorID, let readings)?:
            precondition(deliveries.answers.isEmpty)
            guard let consumers = model.consumers[sensorID], !consumers.isEmpty else {
                model.withoutConsumer += 1
                precondition(deliveries.blocked == nil)
                return
            }
            // A full lossless consumer holds the reading back from everyone: nothing delivered,
            // the receive path is told to wait and to go on from this message.
            let full = consumers.filter { model.lossless.contains($0.key) && $0.value.count == queueCapacity }
            if !full.isEmpty {
                model.losslessWaits += 1
                precondition(deliveries.blocked?.index == 0, "a full lossless consumer did not stop the dispatch")
                precondition(deliveries.blocked.map { blocked in full.keys.contains { queues[$0]?.queue === blocked.queue } } == true,
                             "waiting on a queue that is not full")
                return
            }
            precondition(deliveries.blocked == nil, "blocked without a full lossless consumer")
            model.received += 1
            for consumer in consumers.keys {
                var buffered = consumers[consumer] ?? []
                if buffered.count == queueCapacity {
                    precondition(!model.lossless.contains(consumer), "a lossless consumer would drop")
                    buffered.removeFirst()
                    model.dropped += 1
                }
                buffered.append(readings)
                model.consumers[sensorID]?[consumer] = buffered
            }
        }
    }

    /// A sensor id as a JSON string literal's content.
    static func quoted(_ id: String) -> String {
        var output: [UInt8] = []
        JSONSerializer.appendString(id, to: &output)
        return String(decoding: output.dropFirst().dropLast(), as: UTF8.self)
    }
}
