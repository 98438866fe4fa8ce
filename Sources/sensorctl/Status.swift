import SensorStream

enum StatusCommand {
    static let usage = """
    usage: sensorctl status ID... [--host HOST] [--port PORT] [--timeout SECONDS] [--token TOKEN]

    Asks a running server (default localhost:5192) whether each sensor is connected,
    waiting at most --timeout seconds (default 5) for each answer.
    Exit code 0 if all are, 1 otherwise (or if the server cannot be reached). A hub that
    requires an app token gets --token, or SENSORSTREAM_TOKEN from the environment.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--timeout", "--token"], flags: ["--help", "-h"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard !parsed.positional.isEmpty else { throw UsageError(message: "give at least one sensor id") }
        for id in parsed.positional where !(1...40).contains(id.count) {
            throw UsageError(message: "invalid sensor id \"\(id)\" (1 to 40 characters)")
        }
        let port = try parsed.port(default: 5192)
        let timeout = try parsed.double("--timeout", default: 5, in: 0.001...3600)
        let client = SensorClient(host: parsed.string("--host", default: "localhost"), port: port,
                                  configuration: .init(requestTimeout: .milliseconds(Int(timeout * 1000)), reconnect: .disabled,
                                                       token: parsed.appToken))
        do {
            try await client.connect()
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        var allConnected = true
        let width = parsed.positional.map(\.count).max() ?? 0
        for id in parsed.positional {
            do {
                let connected = try await client.sensorConnected(id)
                allConnected = allConnected && connected
                printLine("\(padded(id, width))  \(connected ? "connected" : "not connected")")
            } catch {
                allConnected = false
                printLine("\(padded(id, width))  unknown (\(error))")
            }
        }
        await client.disconnect()
        return allConnected ? 0 : 1
    }
}
