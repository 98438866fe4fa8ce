/// The client's side of an MQTT 3.1.1 session (sections 4.1, 4.3 and 4.4): packet
/// identifiers, QoS 1 and 2 messages in flight in both directions, SUBSCRIBE and UNSUBSCRIBE
/// waiting for their answers, and what a reconnect resends. A value fed the caller's requests
/// and the broker's packets, returning the packets to send and what happened; no I/O, no time.
///
/// Kept across connections when the session is (`cleanSession: false`): after a CONNACK with
/// the session present, ``resume(sessionPresent:)`` gives every unacknowledged PUBLISH again
/// (DUP set, same identifier) and every PUBREL, in their original order (MQTT-4.4.0-1).
package struct MQTTSession: Sendable {
    /// An outgoing QoS 1 or 2 message not yet completed.
    private struct Outgoing: Sendable {
        var publish: MQTTPublish
        /// QoS 2 only: PUBREC came, PUBREL was sent, PUBCOMP is awaited.
        var released = false
    }

    /// A SUBSCRIBE or UNSUBSCRIBE waiting for its answer: how many return codes it expects
    /// (0 for UNSUBSCRIBE).
    private enum PendingRequest: Sendable, Equatable {
        case subscribe(count: Int)
        case unsubscribe
    }

    /// Outgoing messages in flight, oldest first.
    private var outgoing: [Outgoing] = []
    /// Identifiers of QoS 2 messages received (PUBREC sent) whose PUBREL has not come yet:
    /// a duplicate of one is acknowledged again, not delivered again (MQTT-4.3.3-2).
    private var incomingExactlyOnce: Set<UInt16> = []
    private var requests: [UInt16: PendingRequest] = [:]
    /// Every identifier used by an outgoing message or a request in flight.
    private var identifiersInUse: Set<UInt16> = []
    private var lastPacketID: UInt16 = 0

    /// A session with nothing in flight.
    package init() {}

    /// Outgoing QoS 1 and 2 messages not yet completed.
    package var messagesInFlight: Int { outgoing.count }

    /// What a broker packet meant.
    package struct Reaction: Sendable, Equatable {
        /// Packets to send back (PUBACK, PUBREC, PUBREL, PUBCOMP), in order.
        package var send: [MQTTPacket] = []
        /// A message for the application (each one once, even when the broker resends it).
        package var deliver: MQTTPublish?
        /// A request of this client that is now complete.
        package var completed: Completion?
    }

    /// A request of this client the broker completed.
    package enum Completion: Sendable, Equatable {
        /// The QoS 1 or 2 message with this identifier is delivered (PUBACK or PUBCOMP).
        case published(packetID: UInt16)
        /// The SUBSCRIBE with this identifier was answered.
        case subscribed(packetID: UInt16, returnCodes: [MQTTSubscribeReturnCode])
        /// The UNSUBSCRIBE with this identifier was answered.
        case unsubscribed(packetID: UInt16)
    }

    // MARK: Requests

    /// The PUBLISH packet for `message`: QoS 0 as it is; QoS 1 and 2 with a fresh packet
    /// identifier, kept in flight until completed. Throws when all 65,535 identifiers are in
    /// use.
    package mutating func publish(_ message: MQTTPublish) throws(MQTTSessionError) -> MQTTPacket {
        var message = message
        message.dup = false
        guard message.qos != .atMostOnce else {
            message.packetID = nil
            return .publish(message)
        }
        message.packetID = try nextPacketID()
        outgoing.append(Outgoing(publish: message))
        return .publish(message)
    }

    /// The SUBSCRIBE packet for `subscriptions`, with a fresh packet identifier.
    package mutating func subscribe(_ subscriptions: [MQTTSubscription]) throws(MQTTSessionError) -> (packetID: UInt16, packet: MQTTPacket) {
        let id = try nextPacketID()
        requests[id] = .subscribe(count: subscriptions.count)
        return (id, .subscribe(packetID: id, subscriptions: subscriptions))
    }

    /// The UNSUBSCRIBE packet for `filters`, with a fresh packet identifier.
    package mutating func unsubscribe(_ filters: [String]) throws(MQTTSessionError) -> (packetID: UInt16, packet: MQTTPacket) {
        let id = try nextPacketID()
        requests[id] = .unsubscribe
        return (id, .unsubscribe(packetID: id, filters: filters))
    }

    /// The next identifier after the last one handed out that nothing in flight uses, marked
    /// in use.
    private mutating func nextPacketID() throws(MQTTSessionError) -> UInt16 {
        for _ in 0..<Int(UInt16.max) {
            lastPacketID = lastPacketID == UInt16.max ? 1 : lastPacketID + 1
            let id = lastPacketID
            if identifiersInUse.insert(id).inserted { return id }
        }
        throw .noPacketIdentifier
    }

    // MARK: The broker's packets

    /// What a packet from the broker means after CONNACK. Throws
    /// ``MQTTSessionError/protocolViolation(_:)`` for a packet a broker must not send, or an
    /// acknowledgement of nothing this session sent: the connection must be closed.
    package mutating func receive(_ packet: MQTTPacket) throws(MQTTSessionError) -> Reaction {
        var reaction = Reaction()
        switch packet {
        case .publish(let message):
            switch message.qos {
            case .atMostOnce:
                reaction.deliver = message
            case .atLeastOnce:
                reaction.deliver = message
                reaction.send = [.pubAck(packetID: message.packetID ?? 0)]
            case .exactlyOnce:
                let id = message.packetID ?? 0
                if incomingExactlyOnce.insert(id).inserted { reaction.deliver = message }
                reaction.send = [.pubRec(packetID: id)]
            }
        case .pubRel(let id):
            // Answered whether or not the identifier is known: a PUBREL resent after this
            // client's PUBCOMP was lost must still complete (MQTT-4.3.3-2).
            incomingExactlyOnce.remove(id)
            reaction.send = [.pubComp(packetID: id)]
        case .pubAck(let id):
            guard let index = outgoing.firstIndex(where: { $0.publish.packetID == id }), outgoing[index].publish.qos == .atLeastOnce else {
                throw .protocolViolation("PUBACK \(id) for no QoS 1 message in flight")
            }
            outgoing.remove(at: index)
            identifiersInUse.remove(id)
            reaction.completed = .published(packetID: id)
        case .pubRec(let id):
            guard let index = outgoing.firstIndex(where: { $0.publish.packetID == id }), outgoing[index].publish.qos == .exactlyOnce else {
                throw .protocolViolation("PUBREC \(id) for no QoS 2 message in flight")
            }
            outgoing[index].released = true
            reaction.send = [.pubRel(packetID: id)]
        case .pubComp(let id):
            guard let index = outgoing.firstIndex(where: { $0.publish.packetID == id }), outgoing[index].released else {
                throw .protocolViolation("PUBCOMP \(id) for no released QoS 2 message")
            }
            outgoing.remove(at: index)
            identifiersInUse.remove(id)
            reaction.completed = .published(packetID: id)
        case .subAck(let id, let codes):
            guard case .subscribe(let count)? = requests[id] else { throw .protocolViolation("SUBACK \(id) for no SUBSCRIBE") }
            guard codes.count == count else {
                throw .protocolViolation("SUBACK \(id) with \(codes.count) return codes for \(count) subscriptions")
            }
            requests[id] = nil
            identifiersInUse.remove(id)
            reaction.completed = .subscribed(packetID: id, returnCodes: codes)
        case .unsubAck(let id):
            guard requests[id] == .unsubscribe else { throw .protocolViolation("UNSUBACK \(id) for no UNSUBSCRIBE") }
            requests[id] = nil
            identifiersInUse.remove(id)
            reaction.completed = .unsubscribed(packetID: id)
        case .pingResp:
            break
        case .connAck:
            throw .protocolViolation("a second CONNACK")
        case .connect, .subscribe, .unsubscribe, .pingReq, .disconnect:
            throw .protocolViolation("\(packet.name) from the broker")
        }
        return reaction
    }

    // MARK: Connections

    /// The connection ended: SUBSCRIBE and UNSUBSCRIBE requests waiting for an answer are
    /// dropped (they are not resent; the caller subscribes again on the next connection).
    /// Returns their identifiers. Messages in flight stay for ``resume(sessionPresent:)``.
    package mutating func connectionLost() -> [UInt16] {
        let dropped = requests.keys.sorted()
        for id in dropped { identifiersInUse.remove(id) }
        requests.removeAll()
        return dropped
    }

    /// The packets to send after a new connection's CONNACK. With the broker's session
    /// present: every outgoing message in flight again (a PUBLISH with DUP set, or the PUBREL
    /// of a released QoS 2 one), in the order they were first sent. Without it the broker
    /// forgot everything: the QoS 2 messages it was delivering to us are forgotten here too,
    /// and outgoing messages are sent again from the start (PUBLISH, DUP set: the broker may
    /// have passed them on before it lost the session).
    package mutating func resume(sessionPresent: Bool) -> [MQTTPacket] {
        if !sessionPresent {
            incomingExactlyOnce.removeAll()
            for index in outgoing.indices { outgoing[index].released = false }
        }
        return outgoing.map { entry in
            if entry.released, let id = entry.publish.packetID { return .pubRel(packetID: id) }
            var again = entry.publish
            again.dup = true
            return .publish(again)
        }
    }
}
