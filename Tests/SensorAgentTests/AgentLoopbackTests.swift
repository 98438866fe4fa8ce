import Foundation
import Locking
import SensorAgent
@testable import SensorHub
import SensorStream
import Testing
import TestSupport
import WebSocketIO

@Suite("SensorAgent and the hub on loopback", .timeLimit(.minutes(2)))
struct AgentLoopbackTests {
    static let thermometer = Device(id: "thermo-1", type: "thermometer", name: "Kitchen", tags: ["floor": "1"])
    static let lamp = Device(id: "lamp-2", type: "lamp", name: "Hall")

    static func configuration(token: String? = nil) -> AgentClient.Configuration {
        var configuration = AgentClient.Configuration(token: token)
        configuration.reconnect = .fixed(.milliseconds(20))
        configuration.requestTimeout = .seconds(10)
        return configuration
    }

    static func waitConnected(_ agent: AgentClient) async -> Bool {
        await eventually { agent.connectionState == .connected }
    }

    @Test("an agent registers its devices; an app sees them connected and gets their events as readings with the service")
    func registerAndEvents() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let store = InMemoryDeviceStore([Self.thermometer])
        let agent = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: store, configuration: Self.configuration())
        agent.start()
        #expect(await Self.waitConnected(agent))
        // Synchronised; the description the hub asked for is on its way.
        #expect(await eventually { hub.isConnected("thermo-1") })
        let app = SensorClient(host: "127.0.0.1", port: hub.port)
        try await app.connect()
        #expect(try await app.sensorConnected("thermo-1"))
        let first = Task { () -> SensorReading? in
            for await reading in app.readings("thermo-1") { return reading }
            return nil
        }
        #expect(await eventually { hub.subscriberCount("thermo-1") == 1 })
        let ack = try await agent.event(device: "thermo-1", service: "reading", data: ["temperature": 21.5])
        #expect(ack.statusCode == 200 && ack.contentType == "application/json")
        #expect(await first.value?.readings == ["temperature": 21.5, "service": "reading"])
        #expect(try await agent.add(Self.lamp), "acknowledged")
        #expect(hub.isConnected("lamp-2"))
        #expect(try await agent.disconnect(device: "lamp-2"))
        #expect(!hub.isConnected("lamp-2") && store.get("lamp-2") != nil, "disconnected at the hub, kept in the store")
        let unknown = try await agent.event(device: "lamp-2", service: "reading", data: 1)
        #expect(unknown.statusCode == 404, "a disconnected device's event")
        #expect(try await agent.delete(device: "lamp-2"))
        #expect(store.get("lamp-2") == nil)
        await #expect(throws: AgentClientError.unknownDevice("lamp-2")) { try await agent.delete(device: "lamp-2") }
        await app.disconnect()
        await agent.stop()
        #expect(await eventually { !hub.isConnected("thermo-1") })
    }

    @Test("the hub restarts: the agent reconnects and its devices are registered again; a change made while down arrives")
    func hubRestart() async throws {
        let hub = try Hub()
        let port = hub.port
        let store = InMemoryDeviceStore([Self.thermometer])
        var configuration = Self.configuration()
        configuration.requestTimeout = .milliseconds(300)
        let agent = AgentClient(host: "127.0.0.1", port: port, agentID: "home-1", devices: store, configuration: configuration)
        agent.start()
        #expect(await Self.waitConnected(agent))
        await hub.stop()
        #expect(await eventually { agent.connectionState != .connected })
        #expect(try await agent.add(Self.lamp) == false, "not acknowledged while the hub is down")
        #expect(store.get("lamp-2") != nil, "but in the store")
        let restarted = try await rebinding { try Hub(port: port) }
        #expect(await eventually { restarted.isConnected("thermo-1") && restarted.isConnected("lamp-2") })
        await agent.stop()
        await restarted.stop()
    }

    @Test("the agent restarts with its file store: its devices are kept and registered again")
    func agentRestartWithFileStore() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: try FileDeviceStore(path: path), configuration: Self.configuration())
        first.start()
        #expect(await Self.waitConnected(first))
        #expect(try await first.add(Self.thermometer))
        #expect(try await first.add(Self.lamp))
        await first.stop()
        #expect(await eventually { !hub.isConnected("lamp-2") })
        let second = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: try FileDeviceStore(path: path), configuration: Self.configuration())
        second.start()
        #expect(await eventually { hub.isConnected("thermo-1") && hub.isConnected("lamp-2") })
        await second.stop()
    }

    @Test("a wrong token: refused with 401 before the upgrade, a final typed error, no reconnect loop")
    func wrongToken() async throws {
        let hub = try Hub(agentToken: "secret")
        defer { Task { await hub.stop() } }
        let refusals = LockedValue(0)
        let events = hub.events
        let watcher = Task {
            // The agent sends its token in the upgrade request too: a wrong one never upgrades.
            for await event in events {
                if case .rejected(let what) = event, what.contains("upgrade refused: 401") { refusals.withLock { $0 += 1 } }
            }
        }
        defer { watcher.cancel() }
        let agent = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: InMemoryDeviceStore([Self.thermometer]),
                                configuration: Self.configuration(token: "nope"))
        agent.start()
        #expect(await eventually { if case .rejected = agent.connectionState { true } else { false } })
        await #expect(throws: AgentClientError.rejected("invalid agent token")) { try await agent.event(device: "thermo-1", service: "s", data: 1) }
        #expect(refusals.withLock { $0 } == 1, "positive control: one refusal")
        // With a 20 ms reconnect delay, a loop would have come back many times by now.
        try await Task.sleep(for: .milliseconds(500))
        #expect(refusals.withLock { $0 } == 1 && !hub.isConnected("thermo-1"))
        // The right token connects.
        let good = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: InMemoryDeviceStore([Self.thermometer]),
                               configuration: Self.configuration(token: "secret"))
        good.start()
        #expect(await eventually { hub.isConnected("thermo-1") })
        await good.stop()
    }

    @Test("100 drops of the agent's connection: nothing lost from the store, every device registered after each")
    func hundredDrops() async throws {
        let hub = try Hub()
        defer { Task { await hub.stop() } }
        let store = InMemoryDeviceStore([Self.thermometer])
        let agent = AgentClient(host: "127.0.0.1", port: hub.port, agentID: "home-1", devices: store, configuration: Self.configuration())
        agent.start()
        #expect(await Self.waitConnected(agent))
        var expected = ["thermo-1"]
        for round in 1...100 {
            if round % 10 == 0 {
                let device = Device(id: "extra-\(round)", type: "thermometer", name: "Extra \(round)")
                expected.append(device.id)
                // Added around a drop: acknowledged now or after the reconnect.
                Task { _ = try? await agent.add(device) }
            }
            hub.dropAllConnections()
            let ids = expected
            let registered = await eventually(timeout: .seconds(20)) { ids.allSatisfy { hub.isConnected($0) } }
            #expect(registered, "round \(round)")
            if !registered { break }
        }
        #expect(Set(store.devices.map(\.id)) == Set(expected))
        await agent.stop()
    }

    @Test("with a registry file the hub remembers devices across a restart: listed disconnected, connected again without a new registration")
    func registryFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hub-devices-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try Hub(registryFile: path)
        let store = InMemoryDeviceStore([Self.thermometer])
        let agent = AgentClient(host: "127.0.0.1", port: first.port, agentID: "home-1", devices: store, configuration: Self.configuration())
        agent.start()
        #expect(await eventually { first.isConnected("thermo-1") })
        #expect(try await agent.add(Self.lamp))
        await agent.stop()
        await first.stop()
        let saved = try RegistryFile.read(path)
        #expect(saved == ["home-1": [Self.lamp, Self.thermometer]])
        let second = try Hub(registryFile: path, savedDevices: saved)
        defer { Task { await second.stop() } }
        let app = SensorClient(host: "127.0.0.1", port: second.port)
        try await app.connect()
        #expect(try await app.sensors().map { "\($0.sensorID) \($0.connected)" } == ["lamp-2 false", "thermo-1 false"])
        // The agent comes back with the same devices: the hub knows their hashes and asks for nothing.
        var registry = DeviceRegistry(restoring: saved)
        let sync = registry.agentConnected(1, agentID: "home-1", devices: [.init(id: "lamp-2", hash: Self.lamp.hash), .init(id: "thermo-1", hash: Self.thermometer.hash)])
        #expect(sync.register.isEmpty && Set(sync.connected) == ["lamp-2", "thermo-1"])
        let again = AgentClient(host: "127.0.0.1", port: second.port, agentID: "home-1", devices: InMemoryDeviceStore([Self.thermometer, Self.lamp]),
                                configuration: Self.configuration())
        again.start()
        #expect(await eventually { second.isConnected("thermo-1") && second.isConnected("lamp-2") })
        await app.disconnect()
        await again.stop()
    }
}
