// sensorctl: the SensorStream command-line tool.
import Foundation

let usage = """
usage: sensorctl <command> [options]

commands:
  demo     in-process hub, simulated agents and a client printing live readings
  hub      run the reference hub in the foreground
  watch    stream readings of sensors from a running server
  status   tell whether sensors are connected (exit 0 if all are)
  metrics  the MetricStore server and client (serve, put, get)
  fastslow the FastSlow server and client (serve, client)
  lantern  a lantern in the terminal, obeying a control server
  lantern-stand  the lantern test stand: control server, JSON API, live web page
  agent    a device program: registers devices with a hub, pushes readings, answers commands
  command  send a command to a device and print its response
  sensors  list the sensors a hub knows (type, name, tags, connected)
  history  a sensor's recorded readings from a hub with --history (table, chart or JSON)
  mqtt     subscribe to or publish on an MQTT broker (sub, pub)

Run `sensorctl <command> --help` for a command's options.
"""

let arguments = Array(CommandLine.arguments.dropFirst())
let command = arguments.first ?? ""
let rest = Array(arguments.dropFirst())
let status: Int32
do throws(UsageError) {
    switch command {
    case "demo": status = try await DemoCommand.run(rest)
    case "hub": status = try await HubCommand.run(rest)
    case "watch": status = try await WatchCommand.run(rest)
    case "status": status = try await StatusCommand.run(rest)
    case "metrics": status = try await MetricsCommand.run(rest)
    case "fastslow": status = try await FastSlowCommand.run(rest)
    case "lantern": status = try await LanternTerminalCommand.run(rest)
    case "lantern-stand": status = try await LanternStandCommand.run(rest)
    case "agent": status = try await AgentSubcommand.run(rest)
    case "command": status = try await CommandSubcommand.run(rest)
    case "sensors": status = try await SensorsCommand.run(rest)
    case "history": status = try await HistoryCommand.run(rest)
    case "mqtt": status = try await MQTTCommand.run(rest)
    case "--help", "-h", "help":
        printLine(usage)
        status = 0
    case "":
        printError(usage)
        status = 2
    default:
        throw UsageError(message: "unknown command \"\(command)\"")
    }
} catch {
    printError("sensorctl: \(error.message)\n")
    let commandUsage = switch command {
    case "demo": DemoCommand.usage
    case "hub": HubCommand.usage
    case "watch": WatchCommand.usage
    case "status": StatusCommand.usage
    case "metrics": MetricsCommand.usage
    case "fastslow": FastSlowCommand.usage
    case "lantern": LanternTerminalCommand.usage
    case "lantern-stand": LanternStandCommand.usage
    case "agent": AgentSubcommand.usage
    case "command": CommandSubcommand.usage
    case "sensors": SensorsCommand.usage
    case "history": HistoryCommand.usage
    case "mqtt": MQTTCommand.usage
    default: usage
    }
    printError(commandUsage)
    status = 2
}
exit(status)
