import Foundation
import Locking
import SensorHub
import SensorStream
import WebSocketIO

/// Many connections on one hub: the hub runs in a child process (this binary with
/// `--serve-hub`), so its thread count and memory are its own; this process holds the client
/// ends (each process stays under the 20,000-descriptor limit).
enum Connections {
    struct Report {
        var hubThreadsIdle = 0, hubThreadsLoaded = 0
        var hubRSSBaseMiB = 0.0, hubRSSIdleMiB = 0.0, hubRSSLoadedMiB = 0.0
        var clientThreads = 0
        var idle = 0, active = 0
        var readingsPerSecond = 0.0
        var connectSeconds = 0.0
    }

    /// The child: a hub on a free port with simulated agents; prints the port, serves until
    /// its standard input closes.
    static func serveHub() async throws {
        // Two loops, as `sensorctl hub --loops 2` (the default on this 2-core machine).
        let hub = try Hub(maxBacklog: 1 << 20, group: .shared(loops: 2))
        let simulation = Simulation(hub: hub, agents: 10, sensorsPerAgent: 10, rate: 10)
        _ = await simulation.ready()
        FileHandle.standardOutput.write(Data("port \(hub.port)\n".utf8))
        _ = await Task.detached { FileHandle.standardInput.readDataToEndOfFile() }.value
        await simulation.stop()
        await hub.stop()
    }

    /// Threads and resident memory of process `pid`, from /proc.
    static func processStatus(_ pid: Int32) -> (threads: Int, rssMiB: Double) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Double {
            status.split(separator: "\n").first { $0.hasPrefix(name) }
                .flatMap { Double($0.dropFirst(name.count).split(whereSeparator: \.isWhitespace).first ?? "") } ?? 0
        }
        return (Int(field("Threads:")), field("VmRSS:") / 1024)
    }

    /// Opens `idle` WebSocket connections that only send `client_connect`, then `active`
    /// SensorClients each subscribed to one simulated sensor, and counts the readings they
    /// receive for `window`.
    static func run(idle: Int, active: Int, window: Duration) async throws -> Report {
        let (child, port, input) = try MetricStoreBench.start(CommandLine.arguments[0], ["--serve-hub"])
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        let pid = child.processIdentifier
        var report = Report(idle: idle, active: active)
        try await Task.sleep(for: .milliseconds(200))
        (report.hubThreadsIdle, report.hubRSSBaseMiB) = processStatus(pid)

        let start = ContinuousClock.now
        var idleConnections: [WebSocketConnection] = []
        idleConnections.reserveCapacity(idle)
        while idleConnections.count < idle {
            let batch = min(200, idle - idleConnections.count)
            try await withThrowingTaskGroup(of: WebSocketConnection.self) { group in
                for _ in 0..<batch {
                    group.addTask {
                        let connection = try await WebSocketConnection.connect(host: "127.0.0.1", port: port)
                        try connection.sendNow(text: #"{"event":"client_connect","data":""}"#)
                        return connection
                    }
                }
                for try await connection in group { idleConnections.append(connection) }
            }
        }
        report.connectSeconds = (ContinuousClock.now - start).secondsValue
        try await Task.sleep(for: .milliseconds(500))
        let idleStatus = processStatus(pid)
        report.hubRSSIdleMiB = idleStatus.rssMiB

        let sensors = (1...10).flatMap { agent in (1...10).map { Simulation.sensorID(agent: agent, sensor: $0) } }
        let received = LockedValue(0)
        let counting = LockedValue(false)
        var clients: [SensorClient] = []
        var consumers: [Task<Void, Never>] = []
        for index in 0..<active {
            let client = SensorClient(host: "127.0.0.1", port: port, configuration: .init(heartbeat: .disabled))
            try await client.connect()
            clients.append(client)
            let readings = client.readings(sensors[index % sensors.count])
            consumers.append(Task {
                for await _ in readings where counting.withLock({ $0 }) { received.withLock { $0 += 1 } }
            })
        }
        try await Task.sleep(for: .seconds(1))
        counting.withLock { $0 = true }
        try await Task.sleep(for: window)
        counting.withLock { $0 = false }
        report.readingsPerSecond = Double(received.withLock { $0 }) / window.secondsValue
        (report.hubThreadsLoaded, report.hubRSSLoadedMiB) = processStatus(pid)
        report.clientThreads = processStatus(getpid()).threads

        for task in consumers { task.cancel() }
        for client in clients { await client.disconnect() }
        for connection in idleConnections { connection.abort() }
        return report
    }
}
