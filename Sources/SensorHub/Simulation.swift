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
    ///
    /// With a `past` and a hub that records history, each sensor's walk first covers that span
    /// (one reading every 15 s, with its past `ts`), put straight into the hub's history, and
    /// the live readings go on from where it ended: a dashboard has an hour to chart from the
    /// start. (The live readings wait for it: about a second for 200 sensors and an hour.)
    package init(hub: Hub, agents: Int, sensorsPerAgent: Int, rate: Double, seed: UInt64 = 42, host: String = "127.0.0.1",
                 token: String? = nil, overTLS: Bool = false, past: Duration = .zero) {
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
            let walkSeeds = sensors.indices.map { Self.walkSeed(seed, agent: agentNumber, sensor: $0 + 1) }
            let history = hub.history
            tasks.append(Task {
                var walks = walkSeeds.map { RandomWalk(seed: $0) }
                if let history { await Self.recordPast(past, of: sensors, walks: &walks, into: history) }
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

    /// Steps every walk through the `past` (one reading per 15 s, ending now) and records the
    /// readings into `history`, waiting while its queue is half full so none is dropped (10 s
    /// at most: then the rest of the past is left out).
    private static func recordPast(_ past: Duration, of sensors: [String], walks: inout [RandomWalk], into history: HistoryRecorder) async {
        let step = 15.0
        let steps = Int(Double(past.components.seconds) / step)
        guard steps > 0 else { return }
        let end = Date().timeIntervalSince1970
        let deadline = ContinuousClock.now + .seconds(10)
        for index in stride(from: steps, to: 0, by: -1) {
            let timestamp = end - Double(index) * step
            var readings: [HubEffects.AcceptedReading] = []
            for (offset, sensor) in sensors.enumerated() {
                readings.append(.init(sensorID: sensor, readings: walks[offset].step(sequence: 0, timestamp: timestamp)))
            }
            history.record(readings, receivedAt: Int64(timestamp * 1000))
            // A store that does not take them within 10 s (down, slow): the past is given up,
            // the live readings start.
            while history.queued > history.capacity / 2 && !Task.isCancelled {
                guard ContinuousClock.now < deadline else { return }
                try? await Task.sleep(for: .milliseconds(5))
            }
            if Task.isCancelled { return }
        }
    }

    /// The seed of one sensor's random walk: the simulation's seed, the agent and the sensor
    /// mixed (SplitMix64's finaliser), so every sensor has a series of its own. (Seeds that
    /// differed only in their lowest bit once gave neighbouring sensors identical values.)
    package static func walkSeed(_ seed: UInt64, agent: Int, sensor: Int) -> UInt64 {
        var mixed = seed ^ (UInt64(truncatingIfNeeded: agent) << 32) ^ UInt64(truncatingIfNeeded: sensor)
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
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
package struct RandomWalk {
    private var state: UInt64
    private var temperature: Double
    private var humidity: Double

    /// A walk from `seed`.
    package init(seed: UInt64) {
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

    /// The next reading: temperature and humidity a small random step on, with `seq` and `ts`.
    package mutating func step(sequence: Int, timestamp: Double) -> JSONValue {
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
