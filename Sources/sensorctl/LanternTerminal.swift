import Foundation
import Lantern

/// `sensorctl lantern`: a lantern in the terminal, obeying a control server.
enum LanternTerminalCommand {
    static let usage = """
    usage: sensorctl lantern [--host 127.0.0.1] [--port 9999]

    Connects to a lantern control server (see lantern-stand) and draws the lantern: a block in
    its color when on, dark when off, redrawn in place, with the connection state under it
    (plain log lines when the output is not a terminal). It reconnects every second while the
    server is down. Without --host and --port, and with a terminal on standard input, it asks
    for host:port. Ctrl-C closes the connection cleanly and exits 0.
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--port"], flags: ["--help", "-h"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) {
            printLine(usage)
            return 0
        }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        var host = parsed.string("--host", default: "127.0.0.1")
        var port = try parsed.port(default: 9999)
        if parsed.options["--host"] == nil, parsed.options["--port"] == nil, isatty(STDIN_FILENO) == 1 {
            FileHandle.standardOutput.write(Data("host:port [127.0.0.1:9999]: ".utf8))
            let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces)
            if !answer.isEmpty {
                guard let address = LanternView.address(answer) else {
                    throw UsageError(message: "expected host:port (e.g. 127.0.0.1:9999), not \"\(answer)\"")
                }
                (host, port) = address
            }
        }
        let lantern = LanternClient(host: host, port: port)
        let terminal = isatty(STDOUT_FILENO) == 1
        onTerminationSignal { Task { await lantern.close() } }
        let (updates, continuation) = AsyncStream<LanternView.Update>.makeStream()
        let states = Task {
            for await state in lantern.states { continuation.yield(.state(state)) }
        }
        let connections = Task {
            for await connection in lantern.connectionStates { continuation.yield(.connection(connection)) }
        }
        Task {
            _ = await (states.value, connections.value)
            continuation.finish()
        }
        var view = LanternView(address: "\(host):\(port)")
        var drawn = 0
        for await update in updates {
            view.apply(update)
            if terminal {
                // Back to the top of the last drawing, then over it.
                let up = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
                let lines = view.terminalLines()
                FileHandle.standardOutput.write(Data((up + lines.map { "\u{1B}[2K" + $0 }.joined(separator: "\n") + "\n").utf8))
                drawn = lines.count
            } else {
                printLine("\(clockTime()) \(view.logLine(for: update))")
            }
        }
        return 0
    }
}

/// What the terminal lantern shows, as text: pure, so it is testable.
struct LanternView {
    enum Update {
        case state(LanternState)
        case connection(LanternConnectionState)
    }

    let address: String
    var state = LanternState()
    var connection = LanternConnectionState.connecting(attempt: 0)

    /// Takes an update (the streams deliver changes only).
    mutating func apply(_ update: Update) {
        switch update {
        case .state(let new): state = new
        case .connection(let new): connection = new
        }
    }

    /// The lantern as a block of true-color cells (dark when off) and the status line.
    func terminalLines(width: Int = 16, height: Int = 5) -> [String] {
        let color = state.isOn ? state.color : LanternColor(red: 28, green: 28, blue: 28)
        let cell = "\u{1B}[48;2;\(color.red);\(color.green);\(color.blue)m" + String(repeating: " ", count: width) + "\u{1B}[0m"
        return Array(repeating: cell, count: height) + ["lantern \(state) · \(connection) · \(address)"]
    }

    /// One log line for an update, for output that is not a terminal.
    func logLine(for update: Update) -> String {
        switch update {
        case .state(let state): "lantern \(state)"
        case .connection(let connection): "connection \(connection) (\(address))"
        }
    }

    /// `host:port` -> its parts; nil when malformed.
    static func address(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard !host.isEmpty, !portText.isEmpty, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let port = Int(portText), (1...65_535).contains(port) else { return nil }
        return (host, port)
    }
}
