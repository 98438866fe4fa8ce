import Foundation
import SensorStream
import SensorWire

/// `sensorctl command`: sends a command to a device and prints its response.
enum CommandSubcommand {
    static let usage = """
    usage: sensorctl command SENSOR_ID SERVICE 'JSON' [--host HOST] [--port PORT] [--timeout SECONDS] [--token TOKEN]

    Sends a command to a device (registered by an agent) through a running hub (default
    localhost:5192) and prints the response's status and data. Waits at most --timeout seconds
    (default 15). Exit code 0 on a 2xx status, 1 otherwise (or if the hub cannot be reached).
    A hub that requires an app token gets --token (a token with the right `command`), or
    SENSORSTREAM_TOKEN from the environment.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--timeout", "--token"], flags: ["--help", "-h"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard parsed.positional.count == 3 else { throw UsageError(message: "command needs SENSOR_ID SERVICE 'JSON'") }
        let (id, service, json) = (parsed.positional[0], parsed.positional[1], parsed.positional[2])
        guard (1...40).contains(id.count) else { throw UsageError(message: "invalid sensor id \"\(id)\" (1 to 40 characters)") }
        guard !service.isEmpty else { throw UsageError(message: "SERVICE must not be empty") }
        let data: JSONValue
        do {
            data = try JSONParser.parse(json)
        } catch {
            throw UsageError(message: "the data is not JSON: \(error)")
        }
        let port = try parsed.port(default: 5192)
        let timeout = try parsed.double("--timeout", default: 15, in: 0.001...3600)
        let client = SensorClient(host: parsed.string("--host", default: "localhost"), port: port,
                                  configuration: .init(requestTimeout: .milliseconds(Int(timeout * 1000)), reconnect: .disabled,
                                                       token: parsed.appToken))
        defer { Task { await client.disconnect() } }
        do {
            try await client.connect()
            let response = try await client.sendCommand(to: id, service: service, data: data)
            printLine("\(response.status) \(JSONSerializer.serialize(response.data))")
            return response.isSuccess ? 0 : 1
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
    }
}

/// `sensorctl sensors`: lists the sensors a hub knows.
enum SensorsCommand {
    static let usage = """
    usage: sensorctl sensors [--host HOST] [--port PORT] [--json] [--token TOKEN]

    Lists every sensor a running hub (default localhost:5192) knows, with type, name, tags and
    whether it is connected; --json prints the list as JSON. A hub that requires an app token
    gets --token, or SENSORSTREAM_TOKEN from the environment.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--token"], flags: ["--help", "-h", "--json"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        let client = SensorClient(host: parsed.string("--host", default: "localhost"), port: try parsed.port(default: 5192),
                                  configuration: .init(reconnect: .disabled, token: parsed.appToken))
        defer { Task { await client.disconnect() } }
        let sensors: [SensorInfo]
        do {
            try await client.connect()
            sensors = try await client.sensors()
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        if parsed.flags.contains("--json") {
            printLine(JSONSerializer.serialize(.array(sensors.map { sensor -> JSONValue in
                ["sensor_id": .string(sensor.sensorID), "type": .string(sensor.type), "name": .string(sensor.name),
                 "tags": .object(sensor.tags.mapValues(JSONValue.string)), "connected": .bool(sensor.connected)]
            })))
            return 0
        }
        let idWidth = max(9, sensors.map(\.sensorID.count).max() ?? 0)
        let typeWidth = max(4, sensors.map(\.type.count).max() ?? 0)
        let nameWidth = max(4, sensors.map(\.name.count).max() ?? 0)
        printLine("\(padded("SENSOR ID", idWidth))  \(padded("TYPE", typeWidth))  \(padded("NAME", nameWidth))  CONNECTED  TAGS")
        for sensor in sensors {
            let tags = sensor.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            printLine("\(padded(sensor.sensorID, idWidth))  \(padded(sensor.type, typeWidth))  \(padded(sensor.name, nameWidth))  \(padded(sensor.connected ? "yes" : "no", 9))  \(tags)")
        }
        return 0
    }
}
