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
}
