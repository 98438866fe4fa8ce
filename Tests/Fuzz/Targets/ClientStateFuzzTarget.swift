import ConnectionCore
import SensorStream
import SensorWire

/// Fuzzing of the client's sans-I/O state: ``SubscriptionBook`` and ``KeyedRequests`` driven
/// by a script of app calls, server messages (arbitrary bytes or well-formed answers) and
/// reconnects, checked step by step against a deliberately naive model.
///
/// Input: a sequence of operations; each starts with an opcode byte and a sensor byte.
enum ClientStateFuzzTarget {
    /// Few ids, so that operations collide on the same sensors; odd ones included.
    static let sensorIDs = ["A01-S1", "A01-S2", "", "é\u{0}\"", "A01-S1 "]

    /// The naive model: what the client should want, computed from scratch.
    struct Model {
        var explicit: Set<String> = []
        var consumers: [String: Int] = [:]
        var waiters: [String: [UInt64]] = [:]

        func isActive(_ id: String) -> Bool { explicit.contains(id) || consumers[id, default: 0] > 0 }
        var active: [String] { sensorIDs.filter(isActive).sorted() }
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        var book = SubscriptionBook()
        var pending = KeyedRequests<String, UInt64>()
        var model = Model()
        var issued: [UInt64] = []
        var bytes = input[...]

        while let opcode = bytes.popFirst(), let sensorByte = bytes.popFirst() {
            let id = sensorIDs[Int(sensorByte) % sensorIDs.count]
            switch opcode % 10 {
            case 0:
                let message = book.subscribe(id)
                precondition(message == (model.isActive(id) ? nil : .subscribe(sensorID: id)))
                model.explicit.insert(id)
            case 1:
                precondition(book.unsubscribe(id) == .unsubscribe(sensorID: id))
                model.explicit.remove(id)
                model.consumers[id] = nil
            case 2:
                let message = book.addConsumer(id)
                precondition(message == (model.isActive(id) ? nil : .subscribe(sensorID: id)))
                model.consumers[id, default: 0] += 1
            case 3:
                let message = book.removeConsumer(id)
                if let count = model.consumers[id], count > 0 {
                    model.consumers[id] = count == 1 ? nil : count - 1
                    precondition(message == (model.isActive(id) ? nil : .unsubscribe(sensorID: id)))
                } else {
                    precondition(message == nil, "removing a consumer that does not exist sent a message")
                }
            case 4:
                let waiter = UInt64(issued.count + 1000)
                let (requestID, isFirst) = pending.add(id, waiter)
                precondition(isFirst == (model.waiters[id] == nil), "only the first request for a sensor is sent")
                model.waiters[id, default: []].append(waiter)
                issued.append(requestID)
                precondition(issued.count == Set(issued).count, "request ids repeat")
            case 5:
                guard !issued.isEmpty else { continue }
                let requestID = issued[Int(sensorByte) % issued.count]
                let removed = pending.remove(id: requestID)
                let expected = removeFromModel(requestID: requestID, issued: issued, model: &model)
                precondition(removed == expected, "remove(id:) returned \(String(describing: removed)), expected \(String(describing: expected))")
            case 6:
                // Arbitrary server bytes: at most one length byte's worth.
                let length = min(Int(sensorByte), bytes.count)
                let text = String(decoding: bytes.prefix(length), as: UTF8.self)
                bytes = bytes.dropFirst(length)
                deliver(text, book: book, pending: &pending, model: &model)
            case 7:
                let text = #"{"event":"sensor_connection_status","data":{"sensor_id":"# + quoted(id) + #","connected":true}}"#
                deliver(text, book: book, pending: &pending, model: &model)
            case 8:
                let text = #"{"event":"new_sensor_data","data":{"sensor_id":"# + quoted(id) + #","sensor_readings":{"t":1.5}}}"#
                deliver(text, book: book, pending: &pending, model: &model)
            default:
                // A reconnect re-sends exactly the active subscriptions and the awaited requests.
                precondition(book.activeSensors == model.active, "resubscribing \(book.activeSensors), expected \(model.active)")
                precondition(pending.awaitedKeys == model.waiters.keys.sorted(), "re-asking the wrong sensors")
            }
            for sensor in sensorIDs { precondition(book.isActive(sensor) == model.isActive(sensor)) }
        }
    }

    /// Applies a server message the way the client does; answers must resolve exactly the
    /// model's waiters, in order.
    static func deliver(_ text: String, book: SubscriptionBook, pending: inout KeyedRequests<String, UInt64>, model: inout Model) {
        guard let envelope = SensorProtocol.decode(text), let message = ServerMessage(envelope) else { return }
        switch message {
        case .connectionStatus(let sensorID, _):
            let answered = pending.answer(sensorID)
            precondition(answered == (model.waiters.removeValue(forKey: sensorID) ?? []), "an answer resolved the wrong waiters")
        case .sensorData(let sensorID, _):
            _ = book.isActive(sensorID)
        }
    }

    static func removeFromModel(requestID: UInt64, issued: [UInt64], model: inout Model) -> UInt64? {
        // Waiter values are 1000 + position in `issued`, so the waiter of a request id is known.
        guard let position = issued.firstIndex(of: requestID) else { return nil }
        let waiter = UInt64(position + 1000)
        for (sensor, list) in model.waiters {
            guard let index = list.firstIndex(of: waiter) else { continue }
            var remaining = list
            remaining.remove(at: index)
            model.waiters[sensor] = remaining.isEmpty ? nil : remaining
            return waiter
        }
        return nil
    }

    /// A sensor id as a JSON string literal's content.
    static func quoted(_ id: String) -> String {
        var output: [UInt8] = []
        JSONSerializer.appendString(id, to: &output)
        return String(decoding: output.dropFirst().dropLast(), as: UTF8.self)
    }
}
