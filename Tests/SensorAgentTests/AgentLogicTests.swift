import Foundation
import Testing
@testable import SensorAgent
import SensorWire

/// The device side without sockets: hashes, stores, the agent's session, the messages.
@Suite("SensorAgent logic without sockets")
struct AgentLogicTests {
    static let thermometer = Device(id: "thermo-1", type: "thermometer", name: "Kitchen", tags: ["floor": "1"])

    @Test("a device's hash is SHA-1 of its canonical JSON (vectors from Python's hashlib and json)")
    func hash() {
        #expect(Self.thermometer.canonicalJSON == #"{"id":"thermo-1","name":"Kitchen","tags":{"floor":"1"},"type":"thermometer"}"#)
        #expect(Self.thermometer.hash == "80d1091be7d8f99e12d6b36b96909e316758a4c6")
        let escaped = Device(id: "lamp-2", type: "lamp", name: "Hall \"A\"\n")
        #expect(escaped.hash == "476881b02faee7ef70e19c4cb0f98bf8ace48341")
        var changed = Self.thermometer
        changed.tags["floor"] = "2"
        #expect(changed.hash != Self.thermometer.hash, "a tag change changes the hash")
    }

    @Test("the file store writes every change atomically, reopens with the same devices, refuses a corrupt file")
    func fileStore() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("devices-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("devices.json").path
        let store = try FileDeviceStore(path: path)
        try store.add(Self.thermometer)
        try store.add(Device(id: "lamp-2", type: "lamp", name: "Hall"))
        var renamed = Self.thermometer
        renamed.name = "Kitchen 2"
        try store.update(renamed)
        #expect(try store.remove("lamp-2")?.id == "lamp-2")
        #expect(throws: DeviceStoreError.unknownDevice("nope")) { try store.update(Device(id: "nope", type: "x", name: "")) }
        #expect(throws: DeviceStoreError.self) { try store.add(Device(id: "", type: "x", name: "")) }
        let reopened = try FileDeviceStore(path: path)
        #expect(reopened.devices == [renamed])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"), "the temporary file was renamed over the file")
        try Data("{\"devices\": [{\"id\": 1}]}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: DeviceStoreError.self) { try FileDeviceStore(path: path) }
        try Data("{\"devi".utf8).write(to: URL(fileURLWithPath: path))
        #expect { try FileDeviceStore(path: path) } throws: { error in
            guard case .file(_, let reason) = error as? DeviceStoreError else { return false }
            return reason.hasPrefix("corrupt")
        }
    }

    @Test("the session: connect lists ids and hashes; sync describes what the hub asks, then the queue; acks resolve in any order")
    func sessionSync() {
        var session = AgentSession<String>(agentID: "home-1", token: "t")
        let (offlineID, offlineSend) = session.submit({ .event(requestID: $0, deviceID: "thermo-1", service: "reading", data: 1) }, waiter: "offline event")
        #expect(offlineSend.isEmpty, "offline: queued, nothing sent")
        let connect = session.connected(devices: [Self.thermometer])
        #expect(connect == [.connect(agentID: "home-1", token: "t", devices: [.init(id: "thermo-1", hash: Self.thermometer.hash)])])
        let (changeID, duringSync) = session.submit({ .disconnect(requestID: $0, deviceID: "thermo-1") }, waiter: "change")
        #expect(duringSync.isEmpty, "before the sync nothing but the connect goes out")
        let (send, _) = session.received(.sync(register: ["thermo-1", "gone"])) { $0 == "thermo-1" ? Self.thermometer : nil }
        #expect(send.count == 3)
        guard case .register(_, Self.thermometer, Self.thermometer.hash) = send[0] else {
            Issue.record("the asked-for device first: \(send)")
            return
        }
        #expect(send[1].requestID == offlineID && send[2].requestID == changeID, "then the queue, in order")
        let (_, direct) = session.submit({ .event(requestID: $0, deviceID: "thermo-1", service: "reading", data: 2) }, waiter: "online")
        #expect(direct.count == 1, "online: sent at once")
        guard case .acked("change", 200, nil) = session.received(.ack(requestID: changeID, status: 200, error: nil), device: { _ in nil }).resolution else {
            Issue.record("the change's ack")
            return
        }
        guard case .acked("offline event", 404, "x") = session.received(.ack(requestID: offlineID, status: 404, error: "x"), device: { _ in nil }).resolution else {
            Issue.record("the event's ack")
            return
        }
        guard case .none = session.received(.ack(requestID: offlineID, status: 200, error: nil), device: { _ in nil }).resolution else {
            Issue.record("a second ack for the same request resolves nothing")
            return
        }
    }

    @Test("the session: a lost connection sends unacknowledged requests again after the next sync; an abandoned event is dropped, an abandoned change is kept")
    func sessionLossAndAbandon() {
        var session = AgentSession<String>(agentID: "a", token: nil)
        _ = session.connected(devices: [])
        _ = session.received(.sync(register: [])) { _ in nil }
        let event = session.submit({ .event(requestID: $0, deviceID: "d", service: "s", data: 1) }, waiter: "e")
        let change = session.submit({ .delete(requestID: $0, deviceID: "d") }, waiter: "c")
        #expect(event.send.count == 1 && change.send.count == 1)
        session.lost()
        #expect(session.abandon(event.requestID) == "e")
        #expect(session.abandon(change.requestID) == "c")
        _ = session.connected(devices: [])
        let (send, _) = session.received(.sync(register: [])) { _ in nil }
        #expect(send.map(\.requestID) == [change.requestID], "the change again; the abandoned event not")
        guard case .acked(nil, 200, _) = session.received(.ack(requestID: change.requestID, status: 200, error: nil), device: { _ in nil }).resolution else {
            Issue.record("the kept change is acknowledged without a waiter")
            return
        }
        #expect(session.queue.isEmpty)
    }

    @Test("messages: every agent and hub message round-trips through its envelope; malformed ones are refused")
    func messages() throws {
        let agentMessages: [AgentToHub] = [
            .connect(agentID: "a", token: nil, devices: [.init(id: "d", hash: "h")]),
            .connect(agentID: "a", token: "secret", devices: []),
            .register(requestID: "1", device: Self.thermometer, hash: Self.thermometer.hash),
            .update(requestID: "2", device: Self.thermometer, hash: "wrong"),
            .disconnect(requestID: "3", deviceID: "d"), .delete(requestID: "4", deviceID: "d"),
            .event(requestID: "5", deviceID: "d", service: "reading", data: ["t": 21.5]),
            .commandResponse(commandID: "c1", status: 200, data: ["done": true]),
        ]
        for message in agentMessages {
            let text = SensorProtocol.encode(message.envelope)
            #expect(try AgentToHub(#require(SensorProtocol.decode(text))) == message, "\(text)")
        }
        let hubMessages: [HubToAgent] = [.sync(register: ["a", "b"]), .ack(requestID: "1", status: 200, error: nil),
                                         .ack(requestID: "2", status: 400, error: "hash mismatch"),
                                         .command(commandID: "c", deviceID: "d", service: "switch", data: ["on": true])]
        for message in hubMessages {
            let text = SensorProtocol.encode(message.envelope)
            #expect(try HubToAgent(#require(SensorProtocol.decode(text))) == message, "\(text)")
        }
        for bad in [#"{"event":"agent_sync","data":{"register":[1]}}"#, #"{"event":"ack","data":{"request_id":"1"}}"#,
                    #"{"event":"ack","data":{"request_id":"1","status":200,"error":5}}"#, #"{"event":"command","data":{"command_id":"c"}}"#,
                    #"{"event":"what","data":""}"#] {
            #expect(HubToAgent(try #require(SensorProtocol.decode(bad))) == nil, "\(bad)")
        }
        #expect(AgentToHub(try #require(SensorProtocol.decode(#"{"event":"agent_connect","data":{"agent_id":"a","sensors":["s"]}}"#))) == nil,
                "the legacy agent_connect stays AgentMessage's")
    }
}
