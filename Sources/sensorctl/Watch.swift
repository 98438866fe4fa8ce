import Foundation
import SensorStream

enum WatchCommand {
    static let usage = """
    usage: sensorctl watch ID... [--host HOST] [--port PORT] [--json]

    Streams the readings of the given sensors from a running server (default localhost:5192)
    until Ctrl-C. --json prints one JSON object per line, for piping.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port"], flags: ["--json", "--help", "-h"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard !parsed.positional.isEmpty else { throw UsageError(message: "give at least one sensor id") }
        for id in parsed.positional where !(1...40).contains(id.count) {
            throw UsageError(message: "invalid sensor id \"\(id)\" (1 to 40 characters)")
        }
        let port = try parsed.port(default: 5192)
        let json = parsed.flags.contains("--json")
        let client = SensorClient(host: parsed.string("--host", default: "localhost"), port: port)
        do {
            try await client.connect()
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        if !json {
            Task { for await state in client.connectionStates { printError("\(clockTime())  state  \(state)") } }
        }
        let loops = parsed.positional.map { id in
            Task {
                for await reading in client.readings(id) { printLine(json ? jsonLine(reading) : readableLine(reading)) }
            }
        }
        let stop = AsyncStream.makeStream(of: Void.self)
        let signals = onTerminationSignal { stop.continuation.yield() }
        var waitForStop = stop.stream.makeAsyncIterator()
        _ = await waitForStop.next()
        _ = signals
        await client.disconnect()
        for loop in loops { _ = await loop.value }
        return 0
    }
}
