import Foundation
import MQTT

/// `sensorctl mqtt sub|pub`: looking at an MQTT broker from the shell with our client.
enum MQTTCommand {
    static let usage = """
    usage: sensorctl mqtt sub FILTER [--host 127.0.0.1] [--port 1883] [--qos 0|1|2] [--count N] [--client-id ID]
           sensorctl mqtt pub TOPIC PAYLOAD [--host 127.0.0.1] [--port 1883] [--qos 0|1|2] [--retain] [--client-id ID]

    sub subscribes to FILTER (+ matches one topic level, # the rest) and prints one line per
    message: its topic, a space, and its payload (as text when it is UTF-8 without control
    characters, else 0x and hex); a retained message gets " (retained)" after the topic. It
    runs until SIGINT/SIGTERM, or until N messages with --count; lost connections are
    reopened (said on stderr). pub publishes PAYLOAD (text) to TOPIC and returns once it is
    written (QoS 0) or acknowledged (QoS 1 and 2).
    Exit codes: 0 ok, 1 broker unreachable or refusing, 2 usage.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        guard let subcommand = arguments.first else { throw UsageError(message: "mqtt needs sub or pub") }
        let parsed = try Arguments(Array(arguments.dropFirst()), options: ["--host", "--port", "--qos", "--count", "--client-id"],
                                   flags: ["--help", "-h", "--retain"])
        if subcommand == "--help" || subcommand == "-h" || !parsed.flags.isDisjoint(with: ["--help", "-h"]) {
            printLine(usage)
            return 0
        }
        let host = parsed.string("--host", default: "127.0.0.1")
        let port = try parsed.port(default: 1883)
        guard let qos = MQTTQoS(rawValue: UInt8(try parsed.int("--qos", default: 0, in: 0...2))) else { throw UsageError(message: "--qos must be 0, 1 or 2") }
        var configuration = MQTTClient.Configuration()
        if let clientID = parsed.options["--client-id"] { configuration.clientID = clientID }
        if let problem = configuration.problem { throw UsageError(message: problem) }
        switch subcommand {
        case "sub":
            guard parsed.positional.count == 1 else { throw UsageError(message: "sub needs one FILTER") }
            let filter = parsed.positional[0]
            guard MQTTTopic.isValidFilter(filter) else { throw UsageError(message: "\"\(filter)\" is not a valid topic filter") }
            return await subscribe(filter, qos: qos, count: try parsed.optionalInt("--count", in: 1...Int.max),
                                   client: MQTTClient(host: host, port: port, configuration: configuration))
        case "pub":
            guard parsed.positional.count == 2 else { throw UsageError(message: "pub needs TOPIC PAYLOAD") }
            let topic = parsed.positional[0]
            guard MQTTTopic.isValidName(topic) else { throw UsageError(message: "\"\(topic)\" is not a valid topic name") }
            let client = MQTTClient(host: host, port: port, configuration: configuration)
            do {
                try await client.connect()
                try await client.publish(MQTTMessage(topic: topic, text: parsed.positional[1], qos: qos, retain: parsed.flags.contains("--retain")))
                await client.disconnect()
                return 0
            } catch {
                printError("sensorctl: \(error)")
                await client.disconnect()
                return 1
            }
        default:
            throw UsageError(message: "unknown mqtt command \"\(subcommand)\"")
        }
    }

    private static func subscribe(_ filter: String, qos: MQTTQoS, count: Int?, client: MQTTClient) async -> Int32 {
        let termination = TerminationLatch()
        do {
            try await client.connect()
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        termination.onRequest { Task { await client.disconnect() } }
        let states = Task {
            for await phase in client.connectionStates.dropFirst() {
                if case .reconnecting = phase { printError("sensorctl: \(phase)") }
                if case .connected = phase { printError("sensorctl: connected again") }
            }
        }
        defer { states.cancel() }
        var received = 0
        do {
            for try await message in client.messages(matching: filter, qos: qos) {
                printLine(line(message))
                received += 1
                if let count, received >= count { break }
            }
        } catch {
            printError("sensorctl: \(error)")
            await client.disconnect()
            return 1
        }
        await client.disconnect()
        return 0
    }

    /// `topic payload`, `topic (retained) payload`; a payload that is not plain text as hex.
    static func line(_ message: MQTTMessage) -> String {
        let topic = message.topic + (message.retain ? " (retained)" : "")
        let text = String(validating: message.payload, as: UTF8.self)
        if let text, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "\(topic) \(text)"
        }
        return "\(topic) 0x" + message.payload.map { String(format: "%02x", $0) }.joined()
    }
}
