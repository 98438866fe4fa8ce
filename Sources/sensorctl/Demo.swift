import Foundation
import Locking
import MetricStore
import SensorHub
import SensorStream

enum DemoCommand {
    static let usage = """
    usage: sensorctl demo [--duration SECONDS] [--agents N] [--sensors-per-agent M] [--rate HZ]

    Starts an in-process hub with simulated agents on a free port, connects a SensorClient,
    subscribes to three sensors and prints live readings and connection states. Part-way it
    drops every connection on purpose to show the automatic reconnect and resubscribe. An
    in-process metric store keeps the history (every reading's numbers, as with
    `sensorctl hub --history`). Ends after --duration seconds (default 10) or on Ctrl-C, with a
    one-line summary.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--duration", "--agents", "--sensors-per-agent", "--rate"], flags: ["--help", "-h"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        let duration = try parsed.double("--duration", default: 10, in: 1...3600)
        let agents = try parsed.int("--agents", default: 2, in: 1...100)
        let sensorsPerAgent = try parsed.int("--sensors-per-agent", default: 3, in: 1...100)
        let rate = try parsed.double("--rate", default: 4, in: 0.1...1000)

        let hub: Hub
        let store: MetricStoreServer
        do {
            store = try MetricStoreServer(host: "127.0.0.1", port: 0)
        } catch {
            printError("sensorctl: cannot start the metric store: \(error)")
            return 1
        }
        do {
            hub = try Hub(host: "127.0.0.1", port: 0, history: HistoryRecorder(host: "127.0.0.1", port: store.port))
        } catch {
            printError("sensorctl: cannot start the hub: \(error)")
            return 1
        }
        // An hour of simulated past in the history: the dashboard's charts have something to show.
        let simulation = Simulation(hub: hub, agents: agents, sensorsPerAgent: sensorsPerAgent, rate: rate, past: .seconds(3600))
        _ = await simulation.ready()
        let watched = Array([simulation.sensorIDs.first, simulation.sensorIDs.dropFirst(sensorsPerAgent).first,
                             simulation.sensorIDs.last].compactMap { $0 }.reduce(into: [String]()) { if !$1.isEmpty && !$0.contains($1) { $0.append($1) } })
        printLine("SensorStream demo: hub on ws://127.0.0.1:\(hub.port), \(agents) simulated agents × \(sensorsPerAgent) sensors at \(rate) Hz")
        printLine("dashboard: http://127.0.0.1:\(hub.port)/ (open it in a browser while the demo runs)")
        printLine("history: every reading's numbers into the metric store on 127.0.0.1:\(store.port) (sensorctl metrics get '*' --port \(store.port))")
        printLine("watching \(watched.joined(separator: ", ")) for \(duration) s; Ctrl-C ends early\n")

        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(
            heartbeat: .init(interval: .seconds(2), timeout: .seconds(2)),
            reconnect: .init(initialDelay: .milliseconds(200), maxDelay: .seconds(2))))
        let states = Task {
            for await state in client.connectionStates { printLine("\(clockTime())  state      \(state)") }
        }
        let started = ContinuousClock.now
        do {
            try await client.connect()
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        for id in watched {
            let online = (try? await client.sensorConnected(id)) ?? false
            printLine("\(clockTime())  status     \(id) is \(online ? "connected" : "not connected")")
        }
        let perSensor = LockedValue<[String: Int]>([:])
        let loops = watched.map { id in
            Task {
                for await reading in client.readings(id) {
                    perSensor.withLock { $0[id, default: 0] += 1 }
                    printLine(readableLine(reading))
                }
            }
        }

        let stop = AsyncStream.makeStream(of: Void.self)
        onTerminationSignal { stop.continuation.yield() }
        let timeline = Task {
            try await Task.sleep(for: .seconds(duration * 0.4))
            printLine("\(clockTime())  demo       dropping every connection on purpose: watch the reconnect and resubscribe")
            hub.dropAllConnections()
            try await Task.sleep(for: .seconds(duration * 0.6))
            stop.continuation.yield()
        }
        var waitForStop = stop.stream.makeAsyncIterator()
        _ = await waitForStop.next()
        timeline.cancel()

        await client.disconnect()
        for loop in loops { _ = await loop.value }
        _ = await states.value
        await simulation.stop()
        let recorded = hub.history?.counts ?? .init()
        await hub.stop()
        store.stop()
        let elapsed = ContinuousClock.now - started
        let statistics = client.statistics
        let counts = perSensor.withLock { $0 }
        let total = counts.values.reduce(0, +)
        printLine("\nsummary    \(total) readings from \(counts.count) sensors in \(String(format: "%.1f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) s, "
                  + "\(statistics.reconnects) reconnect\(statistics.reconnects == 1 ? "" : "s"), \(statistics.readingsDropped) dropped")
        printLine("history    \(store.pointCount) points of \(store.keyCount) metrics in the store (\(recorded.stored) puts acknowledged, \(recorded.dropped) dropped)")
        return 0
    }
}
