import Foundation
import Locking
import SensorAgent

/// Simulated device agents with realistic readings, on the same agent implementation real
/// devices use: each is an ``AgentClient`` connecting to the hub over loopback, its sensors
/// registered as devices (type `thermometer`), every sensor a temperature/humidity random walk
/// published at a fixed rate. Sensor ids are stable (`A01-S1`, `A01-S2`, `A02-S1` ...) so an
/// app can subscribe to them.
package final class Simulation: Sendable {
    /// The ids of every simulated sensor, agent by agent.
    package let sensorIDs: [String]
    private let hub: Hub
    private let agents: [AgentClient]
    private let tasks: LockedValue<[Task<Void, Never>]>

    /// The stable id of sensor `sensor` (1-based) of agent `agent` (1-based).
    package static func sensorID(agent: Int, sensor: Int) -> String {
        "A" + (agent < 10 ? "0" : "") + "\(agent)-S\(sensor)"
    }

    /// Starts `agents` agents of `sensorsPerAgent` sensors each, connecting to `hub` at `host`
    /// (with `token` if the hub asks for one), each sensor publishing `rate` readings per
    /// second once its agent is connected. Returns at once: see ``ready(timeout:)``.
    /// With `overTLS` the agents connect with TLS without verifying the certificate: they run
    /// in the hub's own process, over loopback, and the hub's certificate may be self-signed.
    package init(hub: Hub, agents: Int, sensorsPerAgent: Int, rate: Double, seed: UInt64 = 42, host: String = "127.0.0.1",
                 token: String? = nil, overTLS: Bool = false) {
        self.hub = hub
        var ids: [String] = []
        var clients: [AgentClient] = []
        var tasks: [Task<Void, Never>] = []
        let interval = Duration.nanoseconds(Int64(1e9 / max(rate, 0.001)))
        var configuration = AgentClient.Configuration(token: token)
        if overTLS { configuration.tls = TLSConfiguration(certificateVerification: .noneInsecureForDevelopmentOnly) }
        configuration.reconnect = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(1), multiplier: 2, jitter: 0.2, maxAttempts: nil)
        for agentNumber in 1...max(agents, 1) {
            let sensors = (1...max(sensorsPerAgent, 1)).map { Self.sensorID(agent: agentNumber, sensor: $0) }
            ids += sensors
            let devices = sensors.enumerated().map { index, id in
                Device(id: id, type: "thermometer", name: "Simulated sensor \(index + 1) of agent \(agentNumber)", tags: ["simulated": "true"])
            }
            let agent = AgentClient(host: host, port: hub.port, agentID: "sim-agent-\(agentNumber)",
                                    devices: InMemoryDeviceStore(devices), configuration: configuration)
            agent.start()
            clients.append(agent)
            let agentSeed = seed &+ UInt64(agentNumber)
            tasks.append(Task {
                var walks = sensors.enumerated().map { RandomWalk(seed: agentSeed &* 31 &+ UInt64($0.offset)) }
                var sequence = 0
                let clock = ContinuousClock()
                var next = clock.now
                while !Task.isCancelled {
                    sequence += 1
                    let timestamp = Date().timeIntervalSince1970
                    for (index, sensor) in sensors.enumerated() {
                        // Dropped while the agent is reconnecting, like a real device's telemetry.
                        agent.publish(device: sensor, service: "reading", data: walks[index].step(sequence: sequence, timestamp: timestamp))
                    }
                    next += interval
                    try? await clock.sleep(until: next)
                }
            })
        }
        sensorIDs = ids
        self.agents = clients
        self.tasks = LockedValue(tasks)
    }

    /// Waits until the hub serves every simulated sensor; false after `timeout`.
    package func ready(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if sensorIDs.allSatisfy({ hub.isConnected($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Stops publishing and stops the agents (their sensors become disconnected).
    package func stop() async {
        for task in tasks.withLock({ tasks in defer { tasks.removeAll() }; return tasks }) { task.cancel() }
        for agent in agents { await agent.stop() }
    }
}

/// A temperature/humidity random walk with a deterministic generator.
struct RandomWalk {
    private var state: UInt64
    private var temperature: Double
    private var humidity: Double

    init(seed: UInt64) {
        state = seed | 1
        temperature = 0
        humidity = 0
        temperature = 18 + 6 * unit()
        humidity = 35 + 25 * unit()
    }

    /// A value in 0..<1 (xorshift64*).
    private mutating func unit() -> Double {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Double((state &* 2_685_821_657_736_338_717) >> 11) / Double(1 << 53)
    }

    mutating func step(sequence: Int, timestamp: Double) -> JSONValue {
        temperature = min(40, max(-10, temperature + (unit() - 0.5) * 0.4))
        humidity = min(100, max(0, humidity + (unit() - 0.5) * 1.0))
        return [
            "temperature": .number((temperature * 100).rounded() / 100),
            "humidity": .number((humidity * 10).rounded() / 10),
            "seq": .number(Double(sequence)),
            "ts": .number((timestamp * 1000).rounded()),
        ]
    }
}
