import Foundation
import SensorAgent
import SensorHub
import ConnectionCore
import WebSocketCore

enum HubCommand {
    static let usage = """
    usage: sensorctl hub [--host HOST] [--port PORT] [--simulate-agents N] [--sensors-per-agent M]
                         [--rate HZ] [--log-file PATH] [--backpressure]
                         [--agent-token-file FILE] [--tokens FILE] [--allowed-origin ORIGINS]
                         [--legacy-agents on|off] [--insecure-open] [--command-timeout S]
                         [--data-dir DIR] [--compression] [--tls-cert CERT.pem --tls-key KEY.pem]
                         [--loops N] [--agent-token TOKEN] [--app-token TOKEN] [--history metrics://HOST:PORT]
                         [--simulate-past DURATION]

    Runs the reference hub in the foreground (default 127.0.0.1:5192). Apps and agents connect
    over WebSocket on that port. With --simulate-agents, N in-process agents publish M sensors
    each (ids A01-S1, A01-S2, ...) at HZ readings per second. Logs one line per event to
    stderr, or to PATH. SIGINT/SIGTERM: close frames to everyone, then exit 0.

    A subscriber more than 1 MiB behind gets its readings dropped (logged), unless
    --backpressure: then nothing is dropped and the hub stops reading the WebSocket agents
    publishing to it until it catches up (one stalled subscriber stalls those agents, and so
    their other subscribers).

    Security (README, Security). Agents present the agent token (--agent-token-file FILE, or
    SENSORSTREAM_AGENT_TOKEN); apps present an app token (--tokens FILE: one `TOKEN RIGHT` per
    line, right read, command or admin; or one admin token, SENSORSTREAM_APP_TOKEN). A missing
    or wrong token is refused with 401 before the WebSocket upgrade; a command without the
    right gets a 403 answer. --agent-token and --app-token work too, but put the token in the
    process list (a warning says so). A connection is an app or an agent, by its first message;
    the other role's messages, a claim on another agent's sensor, and (with an agent token) the
    legacy agent protocol without the token in the upgrade close it with 1008 (logged, counted).
    --legacy-agents off refuses that protocol altogether. Browsers (they send Origin) may
    connect only from the hub's own page or an --allowed-origin (comma-separated
    scheme://host[:port]); others get 403. Without tokens the hub is open to whoever reaches
    the port, so it refuses to start on an address other than loopback unless it has both
    tokens, or --insecure-open.

    Device agents (sensorctl agent, the SensorAgent library) register their devices here. Apps' commands
    to devices wait --command-timeout seconds (default 10) for the agent, then get 504. With
    --data-dir the device registry is kept in DIR/devices.json (written atomically after every
    change) and read back at start: known devices are listed, disconnected, until their agents
    connect.

    With --compression the hub accepts WebSocket compression (permessage-deflate, RFC 7692)
    from clients that offer it (SensorClient does by default): far fewer bytes on the wire,
    more CPU per reading (see README, Performance).

    With --tls-cert and --tls-key (PEM files: the certificate chain, then its unencrypted key)
    the hub serves TLS only: wss:// for apps and agents, https:// for the dashboard. Needs a
    build with --traits TLS.

    --loops N spreads the connections over N event loop threads (default: one per core).

    With --history metrics://HOST:PORT every numeric field of every reading is put into that
    MetricStore (sensorctl metrics serve) as <sensor_id>.<field> at the reading's second (its
    `ts` in milliseconds, else when the hub received it; `seq` and `ts` are not metrics; the
    store keeps one value per key and second, so above 1 Hz the last reading of each second is
    kept). The store being slow or down never slows the readings: what cannot wait is
    dropped and counted (hub_statistics: history_dropped), and a store that is down is tried
    again after a pause (up to 5 s). Apps read it back with sensor_history (sensorctl history,
    the dashboard's charts). --simulate-past 1h first records that span of the simulated
    sensors' readings (one per 15 s) so the charts have a past from the start.
    """

    /// `metrics://HOST:PORT` (the port defaults to 8888).
    static func historyAddress(_ text: String) -> (host: String, port: Int)? {
        guard text.hasPrefix("metrics://") else { return nil }
        let authority = text.dropFirst("metrics://".count)
        guard !authority.isEmpty, !authority.contains("/") else { return nil }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(port),
                  colon > authority.startIndex else { return nil }
            return (String(authority[..<colon]), port)
        }
        return (String(authority), 8888)
    }

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--simulate-agents", "--sensors-per-agent", "--rate", "--log-file",
                                                          "--agent-token", "--command-timeout", "--data-dir", "--tls-cert", "--tls-key", "--loops",
                                                          "--agent-token-file", "--app-token", "--tokens", "--allowed-origin", "--legacy-agents", "--history", "--simulate-past"],
                                   flags: ["--help", "-h", "--backpressure", "--compression", "--insecure-open"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        let host = parsed.string("--host", default: "127.0.0.1")
        let port = try parsed.port(default: 5192)
        let agents = try parsed.int("--simulate-agents", default: 0, in: 0...1000)
        let sensorsPerAgent = try parsed.int("--sensors-per-agent", default: 3, in: 1...1000)
        let rate = try parsed.double("--rate", default: 1, in: 0.01...10000)
        let commandTimeout = try parsed.double("--command-timeout", default: 10, in: 0.1...3600)
        let security: HubSecurityOptions
        do {
            security = try HubSecurityOptions(parsed, environment: ProcessInfo.processInfo.environment)
        } catch let error as UsageError {
            throw error
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        let agentToken = security.access.agentToken
        if let refusal = security.refusalToStart(host: host) {
            printError("sensorctl: \(refusal)")
            return 1
        }
        let loops = try parsed.optionalInt("--loops", in: 1...256) ?? EventLoopGroup.defaultServerLoopCount
        var tls: TLSServerContext?
        switch (parsed.options["--tls-cert"], parsed.options["--tls-key"]) {
        case (nil, nil):
            break
        case (let certificate?, let key?):
            do throws(TLSError) {
                tls = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificate, privateKeyFile: key))
            } catch {
                printError("sensorctl: \(error)")
                return 2
            }
        default:
            throw UsageError(message: "--tls-cert and --tls-key go together")
        }

        let log: FileHandle
        if let path = parsed.options["--log-file"] {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                printError("sensorctl: cannot open log file \(path)")
                return 1
            }
            handle.seekToEndOfFile()
            log = handle
        } else {
            log = FileHandle.standardError
        }
        func write(_ line: String) {
            log.write(Data("\(ISO8601DateFormatter().string(from: Date())) \(line)\n".utf8))
        }

        var registryFile: String?
        var saved: [String: [Device]] = [:]
        if let folder = parsed.options["--data-dir"] {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                printError("sensorctl: cannot create \(folder): \(error.localizedDescription)")
                return 1
            }
            let path = URL(fileURLWithPath: folder).appendingPathComponent("devices.json").path
            do {
                saved = try RegistryFile.read(path)
            } catch {
                printError("sensorctl: \(path): \(error.reason)")
                return 1
            }
            registryFile = path
        }
        // Listening for SIGINT/SIGTERM before anything starts: a signal right after the
        // "listening" line (a test, a supervisor) is not lost.
        let termination = TerminationLatch()
        var history: HistoryRecorder?
        if let text = parsed.options["--history"] {
            guard let address = Self.historyAddress(text) else {
                throw UsageError(message: "--history must be metrics://HOST:PORT, not \"\(text)\"")
            }
            history = HistoryRecorder(host: address.host, port: address.port)
        }
        var past = Duration.zero
        if let text = parsed.options["--simulate-past"] {
            guard let given = durationOption(text) else {
                throw UsageError(message: "--simulate-past must be a number with s, m, h or d (90s, 30m, 12h, 7d), not \"\(text)\"")
            }
            guard history != nil, agents > 0 else { throw UsageError(message: "--simulate-past needs --simulate-agents and --history") }
            past = given
        }
        let hub: Hub
        do {
            hub = try Hub(host: host, port: port, overflow: parsed.flags.contains("--backpressure") ? .backpressure : .dropReadings,
                          access: security.access, commandTimeout: .milliseconds(Int64(commandTimeout * 1000)),
                          registryFile: registryFile, savedDevices: saved,
                          deflate: parsed.flags.contains("--compression") ? PerMessageDeflateConfiguration() : nil, tls: tls,
                          group: .shared(loops: loops), history: history)
        } catch {
            printError("sensorctl: cannot listen on \(host):\(port): \(error)")
            return 1
        }
        let logger = Task { for await event in hub.events { write(event.description) } }
        for warning in security.warnings { write("warning: \(warning)") }
        var simulation: Simulation?
        if agents > 0 {
            // The simulated agents are device agents like any other, over loopback.
            simulation = Simulation(hub: hub, agents: agents, sensorsPerAgent: sensorsPerAgent, rate: rate,
                                    host: host == "0.0.0.0" ? "127.0.0.1" : host, token: agentToken, overTLS: tls != nil, past: past)
            if await simulation?.ready() != true { write("the simulated agents did not all register within 10 s") }
        }
        let scheme = tls == nil ? "ws" : "wss"
        write("hub listening on \(scheme)://\(host):\(hub.port)" + (simulation.map { ", simulating \($0.sensorIDs.count) sensors: \($0.sensorIDs.joined(separator: " "))" } ?? ""))
        if let text = parsed.options["--history"] { write("history: every reading's numbers into \(text)") }
        printLine("hub listening on \(scheme)://\(host):\(hub.port)")
        printLine("dashboard: \(tls == nil ? "http" : "https")://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(hub.port)/")

        let stop = AsyncStream.makeStream(of: Void.self)
        termination.onRequest { stop.continuation.yield() }
        var waitForStop = stop.stream.makeAsyncIterator()
        _ = await waitForStop.next()
        write("shutting down")
        await simulation?.stop()
        await hub.stop()
        _ = await logger.value
        write("stopped")
        return 0
    }
}
