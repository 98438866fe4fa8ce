import Foundation
import Lantern
import LanternStand

/// `sensorctl lantern-stand`: the lantern test stand in the foreground.
enum LanternStandCommand {
    static let usage = """
    usage: sensorctl lantern-stand [--host 127.0.0.1] [--tlv-port 9999] [--api-port 9000] [--web-port 8888] [--loops N]

    Runs the lantern control server (TLV commands to every connected lantern; a new lantern
    gets the current state first), the JSON control API (POST / with
    {"method": "message", "params": {"command": "COLOR", "value": "ff0000"}} or
    {"method": "raw", "params": {"hex": "..."}}) and a live web page showing every lantern.
    It logs lanterns coming and going and every command sent. SIGINT/SIGTERM stop it.
    --loops N spreads the connections over N event loop threads (default: one per core).
    """

    static func run(_ arguments: [String]) async throws(UsageError) -> Int32 {
        let parsed = try Arguments(arguments, options: ["--host", "--tlv-port", "--api-port", "--web-port", "--loops"], flags: ["--help", "-h"])
        if !parsed.flags.isDisjoint(with: ["--help", "-h"]) {
            printLine(usage)
            return 0
        }
        guard parsed.positional.isEmpty else { throw UsageError(message: "unexpected argument \(parsed.positional[0])") }
        let host = parsed.string("--host", default: "127.0.0.1")
        let tlvPort = try parsed.int("--tlv-port", default: 9999, in: 0...65_535)
        let apiPort = try parsed.int("--api-port", default: 9000, in: 0...65_535)
        let webPort = try parsed.int("--web-port", default: 8888, in: 0...65_535)
        let loops = try parsed.optionalInt("--loops", in: 1...256)
        let termination = TerminationLatch()
        let stand: LanternStand
        do {
            stand = try LanternStand(host: host, tlvPort: tlvPort, apiPort: apiPort, webPort: webPort, loops: loops)
        } catch {
            printError("sensorctl: cannot start the stand: \(error)")
            return 1
        }
        printLine("lantern stand: TLV on \(host):\(stand.control.port), API http://\(host):\(stand.api.port)/, page http://\(host):\(stand.web.port)/")
        let events = stand.control.events
        termination.onRequest { stand.stop() }
        for await event in events {
            switch event {
            case .connected(let lantern): printLine("\(clockTime()) lantern #\(lantern.id) connected from \(lantern.address) (\(stand.control.lanterns.count) connected)")
            case .disconnected(let lantern): printLine("\(clockTime()) lantern #\(lantern.id) (\(lantern.address)) went (\(stand.control.lanterns.count) connected)")
            case .sent(let count, let state): printLine("\(clockTime()) sent to \(count) lantern\(count == 1 ? "" : "s"); state \(state)")
            }
        }
        return 0
    }
}
