import Foundation
import TCPTransport

/// Debian's mosquitto broker in a process of its own, on a free loopback port, for tests
/// against a real broker. `.ci/run` installs it and sets `SENSORSTREAM_MOSQUITTO=required`:
/// then a missing broker fails the tests instead of skipping them.
package final class Mosquitto {
    /// The broker's executable, if installed.
    package static let executable: String? = {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/mosquitto" }
            + ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Whether CI demands the broker.
    package static let required = ProcessInfo.processInfo.environment["SENSORSTREAM_MOSQUITTO"] == "required"

    /// Whether the tests run: the broker is there, or CI demands it (and the test then fails).
    package static let shouldRun = executable != nil || required

    package let port: Int
    private let process: Process
    private let directory: URL

    /// Starts a broker and waits until it answers an MQTT CONNECT.
    /// - Parameters:
    ///   - requested: The port (a restarted broker takes its predecessor's); nil picks a free
    ///     one.
    ///   - settings: Extra lines for its configuration file (limits, for a benchmark).
    package init(port requested: Int? = nil, settings: [String] = []) async throws {
        guard let executable = Self.executable else { throw RawPeerError(description: "mosquitto is not installed (apt-get install mosquitto)") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A free port is one we bound and released: another test may take it before the broker
        // does, so a broker that exits (it could not listen) is started again on another one.
        var attempt = 0
        while true {
            attempt += 1
            let port: Int
            if let requested {
                port = requested
            } else {
                let probe = try RawServer()
                port = probe.port
                probe.close()
            }
            let process = try Self.launch(executable, port: port, settings: settings, in: directory)
            if await Self.answers(process, port: port) {
                self.port = port
                self.process = process
                return
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            guard requested == nil, attempt < 5 else {
                try? FileManager.default.removeItem(at: directory)
                throw RawPeerError(description: "mosquitto did not answer on port \(port)")
            }
        }
    }

    private static func launch(_ executable: String, port: Int, settings: [String], in directory: URL) throws -> Process {
        let configuration = directory.appendingPathComponent("mosquitto.conf")
        try (["listener \(port) 127.0.0.1", "allow_anonymous true", "persistence false"] + settings + [""]).joined(separator: "\n")
            .write(to: configuration, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", configuration.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Whether `process` answers an MQTT CONNECT on `port` with an accepting CONNACK within
    /// 20 s (a listener of another test on that port would not); false as soon as it exits.
    private static func answers(_ process: Process, port: Int) async -> Bool {
        // CONNECT, protocol level 4, clean session, keep-alive 0, empty client id.
        let connect: [UInt8] = [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00]
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline && process.isRunning {
            let accepted = (try? await onThread { () -> Bool in
                let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(1)))
                defer { peer.close() }
                try peer.write(connect)
                return try peer.read(count: 4, timeout: .seconds(2)) == [0x20, 0x02, 0x00, 0x00]
            }) ?? false
            if accepted { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Stops the broker.
    package func stop() {
        if process.isRunning {
            // SIGKILL: the child inherits the test process's signal mask, in which SIGTERM is
            // blocked (the package's servers take it on a thread of their own), so
            // `terminate()` would not stop it.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
