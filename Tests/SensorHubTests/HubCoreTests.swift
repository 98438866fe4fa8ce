import SensorAgent
import SensorStream
import SensorWire
import Testing
@testable import SensorHub

@Suite("HubCore, sans-I/O: the hub's dispatch")
struct HubCoreTests {
    @Test("a legacy agent that announced a sensor with sensor_added alone: its sensor disconnects when it leaves (found by the fuzzer)")
    func sensorAddedAloneIsReleased() {
        var core = HubCore()
        core.connected(1, credential: .none, address: "agent")
        core.connected(2, credential: .none, address: "app")
        var effects = HubEffects()
        core.handle(.app(.subscribe(sensorID: "S")), from: 2, now: .zero, into: &effects)
        core.handle(.legacyAgent(.sensorAdded(sensorID: "S")), from: 1, now: .zero, into: &effects)
        #expect(effects.refusal == nil)
        #expect(core.state.owner(of: "S") == 1, "positive control: it owns S")
        let told = core.disconnected(1)
        #expect(core.state.owner(of: "S") == nil)
        #expect(told == [HubState.Delivery(message: .connectionStatus(sensorID: "S", connected: false), recipients: [2])])
    }

    @Test("a refused message changes nothing, and nothing after it in the batch is handled")
    func refusalStopsTheBatch() {
        var core = HubCore(policy: HubAccessPolicy(agentToken: "t"))
        core.connected(1, credential: .none, address: "intruder")
        var effects = HubEffects()
        core.handle(.legacyAgent(.sensorAdded(sensorID: "S")), from: 1, now: .zero, into: &effects)
        core.handle(.app(.subscribe(sensorID: "S")), from: 1, now: .zero, into: &effects)
        #expect(effects.refusal == .violation("legacy agent messages need the agent token in the upgrade request"))
        #expect(core.state.owner(of: "S") == nil && core.state.subscribers(of: "S").isEmpty)
        #expect(core.counters.violations == 1)
    }

    func device(_ id: String) -> Device { Device(id: id, type: "lamp", name: id) }

    /// Connects `peer` as device agent `agentID` listing `devices`, registering any the hub asks for.
    func connectDeviceAgent(_ core: inout HubCore, peer: UInt64, agentID: String, devices: [Device]) -> HubEffects {
        var effects = HubEffects()
        core.handle(.deviceAgent(.connect(agentID: agentID, token: nil, devices: devices.map { .init(id: $0.id, hash: $0.hash) })),
                    from: peer, now: .zero, into: &effects)
        for device in devices {
            core.handle(.deviceAgent(.register(requestID: "r-\(device.id)", device: device, hash: device.hash)), from: peer, now: .zero, into: &effects)
        }
        return effects
    }

    @Test("a device agent that reconnects while its old connection is still open keeps its devices: readings flow from the new one, the old one's end changes nothing")
    func reconnectWhileOldConnectionLingers() {
        var core = HubCore()
        core.connected(1, credential: .none, address: "old")
        core.connected(2, credential: .none, address: "app")
        core.connected(3, credential: .none, address: "new")
        _ = connectDeviceAgent(&core, peer: 1, agentID: "home", devices: [device("lamp")])
        var effects = HubEffects()
        core.handle(.app(.subscribe(sensorID: "lamp")), from: 2, now: .zero, into: &effects)
        #expect(core.state.owner(of: "lamp") == 1)
        // The same agent on a new connection; the old one is half-open, not yet closed.
        let reconnect = connectDeviceAgent(&core, peer: 3, agentID: "home", devices: [device("lamp")])
        #expect(reconnect.refusal == nil)
        #expect(core.state.owner(of: "lamp") == 3, "the new connection serves it")
        var event = HubEffects()
        core.handle(.deviceAgent(.event(requestID: "e", deviceID: "lamp", service: "reading", data: 1)), from: 3, now: .zero, into: &event)
        #expect(event.deliveries.count == 1 && event.deliveries.first?.recipients == [2], "the reading reaches the subscriber")
        #expect(core.disconnected(1).isEmpty, "the old connection's end tells nobody anything")
        #expect(core.state.owner(of: "lamp") == 3 && core.devices.agentPeer(serving: "lamp") == 3)
    }

    @Test("a device its connected agent disconnected cannot be taken by another agent (409); a legacy claim of it is refused")
    func heldDevices() {
        var core = HubCore()
        core.connected(1, credential: .none, address: "owner")
        core.connected(2, credential: .none, address: "thief")
        core.connected(3, credential: .none, address: "legacy")
        _ = connectDeviceAgent(&core, peer: 1, agentID: "home", devices: [device("lamp")])
        var effects = HubEffects()
        core.handle(.deviceAgent(.disconnect(requestID: "d", deviceID: "lamp")), from: 1, now: .zero, into: &effects)
        #expect(core.state.owner(of: "lamp") == nil, "positive control: the device is disconnected")
        let thief = connectDeviceAgent(&core, peer: 2, agentID: "thief", devices: [device("lamp")])
        #expect(thief.replies.contains { $0.contains("\"status\":409") }, "\(thief.replies)")
        #expect(core.devices.entries["lamp"]?.agentID == "home")
        var legacy = HubEffects()
        core.handle(.legacyAgent(.sensorAdded(sensorID: "lamp")), from: 3, now: .zero, into: &legacy)
        #expect(legacy.refusal == .violation("sensor lamp belongs to another agent"))
        // Once its agent is gone, the id may be claimed again.
        _ = core.disconnected(1)
        var later = HubEffects()
        core.handle(.deviceAgent(.register(requestID: "again", device: device("lamp"), hash: device("lamp").hash)), from: 2, now: .zero, into: &later)
        #expect(later.replies.contains { $0.contains("\"status\":200") })
    }

    @Test("one connection speaks for one agent id: a second agent_connect with another id is refused; sensor ids are bounded")
    func oneAgentIDPerConnection() {
        var core = HubCore()
        core.connected(1, credential: .none, address: "agent")
        let first = connectDeviceAgent(&core, peer: 1, agentID: "home", devices: [device("lamp")])
        #expect(first.refusal == nil)
        let second = connectDeviceAgent(&core, peer: 1, agentID: "neighbour", devices: [])
        #expect(second.refusal == .violation("a connection speaks for one agent id (home)"))
        core.connected(2, credential: .none, address: "app")
        var long = HubEffects()
        core.handle(.app(.subscribe(sensorID: String(repeating: "x", count: HubMessage.maxSensorIDBytes + 1))), from: 2, now: .zero, into: &long)
        #expect(long.refusal != nil)
        var fine = HubEffects()
        core.handle(.app(.subscribe(sensorID: String(repeating: "x", count: HubMessage.maxSensorIDBytes))), from: 2, now: .zero, into: &fine)
        #expect(fine.refusal == nil, "positive control: the longest id passes")
    }
}
