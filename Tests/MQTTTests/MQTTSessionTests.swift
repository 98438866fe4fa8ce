import Testing
@testable import MQTT

/// The client's session state: QoS 1 and 2 both ways, packet identifiers, and what a
/// reconnect resends, as values.
@Suite("MQTT client session")
struct MQTTSessionTests {
    static func message(_ topic: String, _ qos: MQTTQoS, id: UInt16? = nil, dup: Bool = false) -> MQTTPublish {
        MQTTPublish(topic: topic, payload: Array(topic.utf8), qos: qos, dup: dup, packetID: id)
    }

    @Test("QoS 0 goes out without an identifier and stays nowhere; QoS 1 completes on its PUBACK")
    func atLeastOnceOutgoing() throws {
        var session = MQTTSession()
        #expect(try session.publish(Self.message("a", .atMostOnce)) == .publish(Self.message("a", .atMostOnce)))
        #expect(session.messagesInFlight == 0)
        #expect(try session.publish(Self.message("b", .atLeastOnce)) == .publish(Self.message("b", .atLeastOnce, id: 1)))
        #expect(session.messagesInFlight == 1)
        #expect(try session.receive(.pubAck(packetID: 1)).completed == .published(packetID: 1))
        #expect(session.messagesInFlight == 0)
        #expect(throws: MQTTSessionError.self, "a second PUBACK acknowledges nothing") { _ = try session.receive(.pubAck(packetID: 1)) }
    }

    @Test("QoS 2 outgoing: PUBREC is answered with PUBREL (again for a resent PUBREC), PUBCOMP completes it")
    func exactlyOnceOutgoing() throws {
        var session = MQTTSession()
        _ = try session.publish(Self.message("t", .exactlyOnce))
        #expect(throws: MQTTSessionError.self, "PUBCOMP before PUBREC") { _ = try session.receive(.pubComp(packetID: 1)) }
        #expect(throws: MQTTSessionError.self, "PUBACK for a QoS 2 message") { _ = try session.receive(.pubAck(packetID: 1)) }
        #expect(try session.receive(.pubRec(packetID: 1)).send == [.pubRel(packetID: 1)])
        #expect(try session.receive(.pubRec(packetID: 1)).send == [.pubRel(packetID: 1)], "a resent PUBREC")
        let done = try session.receive(.pubComp(packetID: 1))
        #expect(done.completed == .published(packetID: 1) && done.send.isEmpty)
        #expect(session.messagesInFlight == 0)
    }

    @Test("incoming: QoS 1 delivered and acknowledged each time; QoS 2 delivered once however often it is resent before PUBREL")
    func incoming() throws {
        var session = MQTTSession()
        let once = try session.receive(.publish(Self.message("q1", .atLeastOnce, id: 7)))
        #expect(once.deliver == Self.message("q1", .atLeastOnce, id: 7) && once.send == [.pubAck(packetID: 7)])
        let first = try session.receive(.publish(Self.message("q2", .exactlyOnce, id: 9)))
        #expect(first.deliver != nil && first.send == [.pubRec(packetID: 9)])
        let resent = try session.receive(.publish(Self.message("q2", .exactlyOnce, id: 9, dup: true)))
        #expect(resent.deliver == nil && resent.send == [.pubRec(packetID: 9)], "not delivered twice, acknowledged again")
        #expect(try session.receive(.pubRel(packetID: 9)).send == [.pubComp(packetID: 9)])
        #expect(try session.receive(.pubRel(packetID: 9)).send == [.pubComp(packetID: 9)], "a resent PUBREL is completed again")
        let next = try session.receive(.publish(Self.message("q2 again", .exactlyOnce, id: 9)))
        #expect(next.deliver != nil, "after PUBREL the identifier is free: a new message (positive control)")
    }

    @Test("SUBACK and UNSUBACK answer their own requests, with one return code per subscription")
    func requests() throws {
        var session = MQTTSession()
        let (subscribeID, subscribe) = try session.subscribe([MQTTSubscription(filter: "a/+", qos: .atLeastOnce),
                                                              MQTTSubscription(filter: "b", qos: .atMostOnce)])
        #expect(subscribe == .subscribe(packetID: subscribeID, subscriptions: [MQTTSubscription(filter: "a/+", qos: .atLeastOnce),
                                                                                MQTTSubscription(filter: "b", qos: .atMostOnce)]))
        let (unsubscribeID, _) = try session.unsubscribe(["a/+"])
        #expect(subscribeID != unsubscribeID)
        #expect(throws: MQTTSessionError.self, "one code for two subscriptions") {
            _ = try session.receive(.subAck(packetID: subscribeID, returnCodes: [.failure]))
        }
        #expect(throws: MQTTSessionError.self, "UNSUBACK for a SUBSCRIBE") { _ = try session.receive(.unsubAck(packetID: subscribeID)) }
        #expect(try session.receive(.subAck(packetID: subscribeID, returnCodes: [.granted(.atLeastOnce), .failure])).completed
                == .subscribed(packetID: subscribeID, returnCodes: [.granted(.atLeastOnce), .failure]))
        #expect(try session.receive(.unsubAck(packetID: unsubscribeID)).completed == .unsubscribed(packetID: unsubscribeID))
        #expect(throws: MQTTSessionError.self, "answered already") { _ = try session.receive(.unsubAck(packetID: unsubscribeID)) }
    }

    @Test("packets a broker never sends are protocol violations; PINGRESP is nothing")
    func brokerRules() throws {
        var session = MQTTSession()
        #expect(try session.receive(.pingResp) == MQTTSession.Reaction())
        for packet: MQTTPacket in [.connect(MQTTConnect(clientID: "c")), .subscribe(packetID: 1, subscriptions: [MQTTSubscription(filter: "a", qos: .atMostOnce)]),
                                   .unsubscribe(packetID: 1, filters: ["a"]), .pingReq, .disconnect,
                                   .connAck(MQTTConnAck(sessionPresent: false, returnCode: .accepted))] {
            #expect(throws: MQTTSessionError.self, "\(packet.name)") { _ = try session.receive(packet) }
        }
    }

    @Test("a reconnect with the session present resends what is in flight, in order: PUBLISH with DUP, PUBREL for released QoS 2")
    func resumeWithSession() throws {
        var session = MQTTSession()
        _ = try session.publish(Self.message("one", .atLeastOnce))   // 1
        _ = try session.publish(Self.message("two", .exactlyOnce))   // 2, released below
        _ = try session.publish(Self.message("three", .exactlyOnce)) // 3
        _ = try session.publish(Self.message("four", .atLeastOnce))  // 4, acknowledged below
        _ = try session.receive(.pubRec(packetID: 2))
        _ = try session.receive(.pubAck(packetID: 4))
        let (subscribeID, _) = try session.subscribe([MQTTSubscription(filter: "x", qos: .atMostOnce)])
        #expect(session.connectionLost() == [subscribeID], "the waiting SUBSCRIBE is dropped, not resent")
        #expect(session.resume(sessionPresent: true) == [
            .publish(Self.message("one", .atLeastOnce, id: 1, dup: true)),
            .pubRel(packetID: 2),
            .publish(Self.message("three", .exactlyOnce, id: 3, dup: true)),
        ])
        #expect(throws: MQTTSessionError.self, "its SUBACK answers nothing now") {
            _ = try session.receive(.subAck(packetID: subscribeID, returnCodes: [.granted(.atMostOnce)]))
        }
        #expect(try session.receive(.pubComp(packetID: 2)).completed == .published(packetID: 2))
    }

    @Test("a reconnect without the broker's session: outgoing messages start over, incoming QoS 2 state is forgotten")
    func resumeWithoutSession() throws {
        var session = MQTTSession()
        _ = try session.publish(Self.message("two", .exactlyOnce))
        _ = try session.receive(.pubRec(packetID: 1))
        _ = try session.receive(.publish(Self.message("in", .exactlyOnce, id: 5)))
        _ = session.connectionLost()
        #expect(session.resume(sessionPresent: false) == [.publish(Self.message("two", .exactlyOnce, id: 1, dup: true))])
        #expect(try session.receive(.publish(Self.message("in", .exactlyOnce, id: 5))).deliver != nil,
                "a new session's message 5 is a new message")
        #expect(try session.receive(.pubRec(packetID: 1)).send == [.pubRel(packetID: 1)], "the flow starts over")
    }

    @Test("packet identifiers skip those in use, wrap after 65,535, and run out when all are in flight")
    func packetIdentifiers() throws {
        var session = MQTTSession()
        for expected in UInt16(1)...UInt16.max {
            guard case .publish(let sent) = try session.publish(Self.message("t", .atLeastOnce)), sent.packetID == expected else {
                Issue.record("identifier \(expected)")
                return
            }
        }
        #expect(throws: MQTTSessionError.noPacketIdentifier) { _ = try session.publish(Self.message("t", .atLeastOnce)) }
        #expect(try session.publish(Self.message("t", .atMostOnce)) == .publish(Self.message("t", .atMostOnce)), "QoS 0 needs none")
        _ = try session.receive(.pubAck(packetID: 3))
        _ = try session.receive(.pubAck(packetID: 70))
        #expect(try session.publish(Self.message("t", .atLeastOnce)) == .publish(Self.message("t", .atLeastOnce, id: 3)), "wrapped, the first free one")
        #expect(try session.subscribe([MQTTSubscription(filter: "a", qos: .atMostOnce)]).packetID == 70)
    }
}
