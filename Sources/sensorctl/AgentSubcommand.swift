import Foundation
import SensorAgent

/// `sensorctl agent`: a device program on the SensorAgent library (named apart from the
/// library's `AgentCommand`, a command from an app).
enum AgentSubcommand {
    static let usage = """
    usage: sensorctl agent [--host 127.0.0.1] [--port 5192] [--id home-1] [--devices-file devices.json]
                           [--simulate N] [--rate HZ] [--token T] [--tls [--tls-ca CA.pem] [--insecure-skip-verify]]

    A device program: loads (or creates) the devices file, registers its devices with the hub
    and keeps them registered across reconnects, pushes simulated readings (service "reading")
    at HZ per device (default 1), and answers every command with 200 and {"done": true} (printing
    it). With --simulate N, simulated thermometers are added until the file holds N devices;
    existing devices are kept. The hub's agent token is --token, or the environment variable
    SENSORSTREAM_AGENT_TOKEN (out of the process list); a hub that refuses it ends the agent
    with exit 1. --tls connects
    with TLS (wss://; a build with --traits TLS), verifying the hub's certificate against the
    system's trust store or the CA certificates in --tls-ca; --insecure-skip-verify turns the
    check off (development hubs only).
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--id", "--devices-file", "--simulate", "--rate", "--token", "--tls-ca"],
                                   flags: ["--help", "-h", "--tls", "--insecure-skip-verify"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) {
            printLine(usage)
            return 0
        }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        let host = parsed.string("--host", default: "127.0.0.1")
        let port = try parsed.port(default: 5192)
        let agentID = parsed.string("--id", default: "home-1")
        guard !agentID.isEmpty else { throw UsageError(message: "--id must not be empty") }
        let path = parsed.string("--devices-file", default: "devices.json")
        let simulate = try parsed.int("--simulate", default: 0, in: 0...10_000)
        let rate = try parsed.double("--rate", default: 1, in: 0.01...1000)
        let store: FileDeviceStore
        do {
            store = try FileDeviceStore(path: path)
            var number = 1
            while store.devices.count < simulate {
                let id = "\(agentID)-t\(number)"
                if store.get(id) == nil { try store.add(Device(id: id, type: "thermometer", name: "Thermometer \(number)", tags: ["simulated": "true"])) }
                number += 1
            }
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        let environmentToken = ProcessInfo.processInfo.environment["SENSORSTREAM_AGENT_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        var configuration = AgentClient.Configuration(token: parsed.options["--token"] ?? environmentToken)
        if parsed.flags.contains("--tls") {
            guard TLSConfiguration.isAvailable else {
                printError("sensorctl: \(TLSError.unavailable)")
                return 2
            }
            configuration.tls = TLSConfiguration(
                certificateVerification: parsed.flags.contains("--insecure-skip-verify") ? .noneInsecureForDevelopmentOnly : .full,
                trustedCertificatesFile: parsed.options["--tls-ca"])
        } else if parsed.options["--tls-ca"] != nil || parsed.flags.contains("--insecure-skip-verify") {
            throw UsageError(message: "--tls-ca and --insecure-skip-verify go with --tls")
        }
        let termination = TerminationLatch()
        let agent = AgentClient(host: host, port: port, agentID: agentID, devices: store, configuration: configuration)
        printLine("agent \(agentID): \(store.devices.count) devices from \(path)")
        for device in store.devices { printLine("  \(device)") }
        agent.onCommand { command in
            printLine("\(clockTime()) command \(command.id): \(command)")
            do {
                if try await !agent.respond(to: command, status: 200, data: ["done": true]) {
                    printLine("\(clockTime()) answer to \(command.id) dropped: not connected")
                }
            } catch {
                printLine("\(clockTime()) answer to \(command.id) not sent: \(error)")
            }
        }
        termination.onRequest { Task { await agent.stop() } }
        agent.start()
        let publisher = Task {
            var walks = store.devices.enumerated().map { TemperatureWalk(seed: UInt64($0.offset) &* 7919 &+ 17) }
            let interval = Duration.nanoseconds(Int64(1e9 / rate))
            let clock = ContinuousClock()
            var next = clock.now
            var sequence = 0
            while !Task.isCancelled {
                sequence += 1
                if agent.connectionState == .connected {
                    for (index, device) in store.devices.enumerated() where index < walks.count {
                        let data: JSONValue = ["temperature": .number(walks[index].step()), "seq": .number(Double(sequence))]
                        let id = device.id
                        Task { _ = try? await agent.event(device: id, service: "reading", data: data) }
                    }
                }
                next += interval
                try? await clock.sleep(until: next)
            }
        }
        defer { publisher.cancel() }
        for await state in agent.connectionStates {
            printLine("\(clockTime()) \(state)")
            if case .rejected = state {
                printError("sensorctl: the hub refused agent \(agentID): \(state)")
                return 1
            }
        }
        return 0
    }
}

/// A temperature random walk for simulated thermometers.
struct TemperatureWalk {
    private var state: UInt64
    private var value: Double

    init(seed: UInt64) {
        state = seed | 1
        value = 20
    }

    mutating func step() -> Double {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        value = min(35, max(5, value + (Double(state % 1000) / 1000 - 0.5) * 0.4))
        return (value * 100).rounded() / 100
    }
}
