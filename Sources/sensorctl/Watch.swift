import Foundation
import SensorStream

enum WatchCommand {
    static let usage = """
    usage: sensorctl watch ID... [--host HOST] [--port PORT] [--json] [--token TOKEN]
           sensorctl watch ID... --url ws[s]://HOST[:PORT][/PATH] [--tls-ca FILE] [--insecure-skip-verify]

    Streams the readings of the given sensors from a running server (default localhost:5192)
    until Ctrl-C. --json prints one JSON object per line, for piping. A wss:// URL connects
    over TLS (a build with --traits TLS), verifying the server's certificate against the
    system's trust store, or against the CA certificates in --tls-ca; --insecure-skip-verify
    turns verification off (development servers only). A hub that requires an app token gets
    --token, or the environment variable SENSORSTREAM_TOKEN (out of the process list).
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port", "--url", "--tls-ca", "--token"],
                                   flags: ["--json", "--help", "-h", "--insecure-skip-verify"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) { printLine(usage); return 0 }
        guard !parsed.positional.isEmpty else { throw UsageError(message: "give at least one sensor id") }
        for id in parsed.positional where !(1...40).contains(id.count) {
            throw UsageError(message: "invalid sensor id \"\(id)\" (1 to 40 characters)")
        }
        let json = parsed.flags.contains("--json")
        let client: SensorClient
        if let url = parsed.options["--url"] {
            guard parsed.options["--host"] == nil && parsed.options["--port"] == nil else {
                throw UsageError(message: "--url replaces --host and --port")
            }
            var configuration = SensorClient.Configuration(token: parsed.appToken)
            if parsed.options["--tls-ca"] != nil || parsed.flags.contains("--insecure-skip-verify") {
                configuration.tls = TLSConfiguration(
                    certificateVerification: parsed.flags.contains("--insecure-skip-verify") ? .noneInsecureForDevelopmentOnly : .full,
                    trustedCertificatesFile: parsed.options["--tls-ca"])
            }
            do {
                client = try SensorClient(url: url, configuration: configuration)
            } catch .tls(let error) {
                printError("sensorctl: \(error)")
                return 2
            } catch {
                throw UsageError(message: error.description)
            }
        } else {
            guard parsed.options["--tls-ca"] == nil && !parsed.flags.contains("--insecure-skip-verify") else {
                throw UsageError(message: "--tls-ca and --insecure-skip-verify go with a wss:// --url")
            }
            client = SensorClient(host: parsed.string("--host", default: "localhost"), port: try parsed.port(default: 5192),
                                  configuration: .init(token: parsed.appToken))
        }
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
        onTerminationSignal { stop.continuation.yield() }
        var waitForStop = stop.stream.makeAsyncIterator()
        _ = await waitForStop.next()
        await client.disconnect()
        for loop in loops { _ = await loop.value }
        return 0
    }
}
