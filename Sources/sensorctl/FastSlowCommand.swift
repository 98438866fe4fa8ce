import FastSlow
import Foundation
import Locking

/// `sensorctl fastslow serve|client`: the FastSlow server and an interactive or periodic client.
enum FastSlowCommand {
    static let usage = """
    usage: sensorctl fastslow serve --config PATH
           sensorctl fastslow client [--host 127.0.0.1] [--port 5555] [--reconnect-delay 2]
                                     [--every 100ms --request fast|slow:N] [--count N]

    serve runs a FastSlow server in the foreground with the config file PATH (`key = value`
    lines: port, host, log_file relative to the file's folder; # comments); it prints its log
    (connects, disconnects, bad input) and appends it to log_file. SIGINT/SIGTERM stop it.
    client prints the client's event log with timestamps. With --every it sends the request
    every interval (10ms...1000ms), skipping ticks whose previous answer has not arrived;
    without it, it reads commands from standard input, one a line:
      fast | slow N | every 200ms fast | every 1s slow 2 | stop | quit
    --reconnect-delay is in seconds (2 or 2s), 1...10. --count N stops after N answers.
    Exit codes: 0 ok, 1 server failure, 2 usage (a bad config file included).
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        guard let subcommand = arguments.first else { throw UsageError(message: "fastslow needs serve or client") }
        let parsed = try Arguments(Array(arguments.dropFirst()), options: ["--config", "--host", "--port", "--reconnect-delay", "--every", "--request", "--count"],
                                   flags: ["--help", "-h"])
        if subcommand == "--help" || subcommand == "-h" || !parsed.flags.isDisjoint(with: ["--help", "-h"]) {
            printLine(usage)
            return 0
        }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        switch subcommand {
        case "serve":
            guard let path = parsed.options["--config"] else { throw UsageError(message: "serve needs --config PATH") }
            return try await serve(configPath: path)
        case "client":
            return try await client(parsed)
        default:
            throw UsageError(message: "unknown fastslow command \"\(subcommand)\"")
        }
    }

    private static func serve(configPath: String) async throws(UsageError) -> Int32 {
        let configuration: FastSlowServerConfiguration
        do {
            configuration = try FastSlowServerConfiguration.load(path: configPath)
        } catch {
            throw UsageError(message: error.description)
        }
        let termination = TerminationLatch()
        let server: FastSlowServer
        do {
            server = try FastSlowServer(configuration: configuration, log: { printLine($0) })
        } catch {
            printError("sensorctl: \(error)")
            return 1
        }
        termination.onRequest { server.stop() }
        await server.run()
        return 0
    }

    private static func client(_ parsed: Arguments) async throws(UsageError) -> Int32 {
        let host = parsed.string("--host", default: "127.0.0.1")
        let port = try parsed.port(default: 5555)
        var configuration = FastSlowClient.Configuration()
        if let text = parsed.options["--reconnect-delay"] {
            guard let delay = FastSlowConsole.duration(text, bareUnit: .seconds(1)),
                  FastSlowClient.Configuration.reconnectDelayRange.contains(delay) else {
                throw UsageError(message: "--reconnect-delay must be 1...10 seconds (2 or 2s), not \"\(text)\"")
            }
            configuration.reconnectDelay = delay
        }
        var periodic: (Duration, FastSlowRequest)?
        if let text = parsed.options["--every"] {
            guard let interval = FastSlowConsole.duration(text), FastSlowClient.Configuration.periodicIntervalRange.contains(interval) else {
                throw UsageError(message: "--every must be 10ms...1000ms (100ms, 1s), not \"\(text)\"")
            }
            let requestText = parsed.string("--request", default: "fast")
            guard let request = FastSlowConsole.request([Substring(requestText)]) else {
                throw UsageError(message: "--request must be fast or slow:N, not \"\(requestText)\"")
            }
            periodic = (interval, request)
        } else if parsed.options["--request"] != nil {
            throw UsageError(message: "--request goes with --every")
        }
        let count = try parsed.options["--count"] == nil ? nil : parsed.int("--count", default: 1, in: 1...Int.max)

        let client = FastSlowClient(host: host, port: port, configuration: configuration)
        let events = client.events
        let printer = Task {
            for await event in events { printLine("\(clockTime()) \(event)") }
        }
        let answers = AnswerCounter(limit: count)
        onTerminationSignal { client.close() }
        defer {
            client.close()
        }
        // The first connect is retried like a reconnect: a server that comes up later is found.
        while true {
            do {
                try await client.connect()
                break
            } catch .connectionFailed(let reason) {
                printLine("\(clockTime()) connect failed: \(reason); retrying in \(configuration.reconnectDelay.components.seconds) s")
                try? await Task.sleep(for: configuration.reconnectDelay)
            } catch {
                printError("sensorctl: \(error)")
                return 1
            }
        }
        if let (interval, request) = periodic {
            for await result in client.periodic(every: interval, request: request) {
                if case .success = result, answers.answered() { break }
            }
        } else {
            await console(client, answers: answers)
        }
        client.close()
        await printer.value
        return 0
    }

    /// Reads commands from standard input until `quit`, its end, or `--count` answers.
    private static func console(_ client: FastSlowClient, answers: AnswerCounter) async {
        printLine(FastSlowConsole.hint)
        var calls: [Task<Void, Never>] = []
        var periodic: Task<Void, Never>?
        let done = Task {
            await answers.reached()
            client.close()
        }
        defer { done.cancel() }
        for await line in standardInputLines() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            switch FastSlowConsole.parse(line) {
            case .failure(let mistake):
                printLine("\(mistake.message); \(FastSlowConsole.hint)")
            case .success(.quit):
                periodic?.cancel()
                return
            case .success(.stop):
                periodic?.cancel()
                periodic = nil
            case .success(.request(let request)):
                let call = Task {
                    if (try? await client.send(request)) != nil { _ = answers.answered() }
                }
                calls.append(call)
            case .success(.every(let interval, let request)):
                periodic?.cancel()
                periodic = Task {
                    for await result in client.periodic(every: interval, request: request) {
                        if case .success = result { _ = answers.answered() }
                    }
                }
            }
            if answers.isDone { return }
        }
        // End of input: the requests already made get their answers (or fail) first.
        periodic?.cancel()
        for call in calls { await call.value }
    }
}

/// Standard input's lines, read on a thread of their own (`readLine` blocks); ends at EOF.
private func standardInputLines() -> AsyncStream<String> {
    AsyncStream { continuation in
        let reader = Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }
        reader.start()
    }
}

/// Counts answers up to `--count`.
private final class AnswerCounter: Sendable {
    private struct State {
        var count = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let limit: Int?
    private let state = LockedValue(State())

    init(limit: Int?) { self.limit = limit }

    /// Counts one; true when the limit is reached.
    func answered() -> Bool {
        let (reached, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            state.count += 1
            guard let limit, state.count >= limit else { return (false, []) }
            defer { state.waiters = [] }
            return (true, state.waiters)
        }
        for waiter in waiters { waiter.resume() }
        return reached
    }

    var isDone: Bool { limit.map { limit in state.withLock { $0.count >= limit } } ?? false }

    /// Returns once the limit is reached (never without one).
    func reached() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if let limit, state.count >= limit { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
