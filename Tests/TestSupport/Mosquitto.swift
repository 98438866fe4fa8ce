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

    /// Starts a broker and waits until it accepts connections.
    /// - Parameter port: The port (a restarted broker takes its predecessor's); nil picks a
    ///   free one.
    package init(port requested: Int? = nil) async throws {
        guard let executable = Self.executable else { throw RawPeerError(description: "mosquitto is not installed (apt-get install mosquitto)") }
        if let requested {
            port = requested
        } else {
            // A free port: bound by us, released, then taken by the broker (mosquitto has no port 0).
            let probe = try RawServer()
            port = probe.port
            probe.close()
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = directory.appendingPathComponent("mosquitto.conf")
        try "listener \(port) 127.0.0.1\nallow_anonymous true\npersistence false\n".write(to: configuration, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", configuration.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let port = port
        let up = await eventually(timeout: .seconds(20)) {
            (try? TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(1)))
                .map { socket in socket.close(); return true } ?? false
        }
        guard up else {
            stop()
            throw RawPeerError(description: "mosquitto did not listen on \(port)")
        }
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
