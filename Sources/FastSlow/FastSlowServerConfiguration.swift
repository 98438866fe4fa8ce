import Foundation

/// What a ``FastSlowServer`` listens on, where it logs, and its limits; read from a config
/// file with ``load(path:)`` or built in code.
///
/// The file has `key = value` lines; `#` starts a comment (to the end of the line), blank
/// lines are allowed:
/// ```
/// # FastSlow server
/// port = 5555
/// host = 127.0.0.1        # the default
/// log_file = fastslow.log # relative to this file's folder
/// ```
public struct FastSlowServerConfiguration: Sendable, Hashable {
    /// The address to listen on. Default 127.0.0.1.
    public var host: String
    /// The port; 0 picks a free one.
    public var port: Int
    /// The log file (appended to); nil logs nowhere but the server's log handler.
    public var logFile: String?
    /// The largest message accepted, in bytes; a size prefix above it closes the connection.
    /// Default 1 MiB.
    public var maxMessageSize: Int
    /// Slow requests of one connection that may wait for their answer at once; one more
    /// closes the connection (each holds a timer). Default 10,000.
    public var maxPendingSlowRequests: Int
    /// Connections served at once; the next one is accepted and closed at once. Default 10,000.
    public var maxConnections: Int
    /// Serve TLS with this identity (needs the package trait `TLS`). Default nil: plaintext.
    public var tls: TLSServerConfiguration?
    /// A client that sends and receives nothing for this long is disconnected, a slow request
    /// waiting for its answer included; nil, the default: never (a slow request may ask for
    /// any number of seconds, and its answer must arrive).
    public var idleTimeout: Duration?
    /// A client whose answers wait without one byte taken for this long (it stopped reading)
    /// is disconnected; nil: never. Default 60 s.
    public var drainTimeout: Duration?

    /// A configuration; what is left out keeps its default.
    /// - Parameters:
    ///   - host: See ``host``.
    ///   - port: See ``port``.
    ///   - logFile: See ``logFile``.
    ///   - maxMessageSize: See ``maxMessageSize``.
    ///   - maxPendingSlowRequests: See ``maxPendingSlowRequests``.
    ///   - maxConnections: See ``maxConnections``.
    ///   - tls: See ``tls``.
    ///   - idleTimeout: See ``idleTimeout``.
    ///   - drainTimeout: See ``drainTimeout``.
    public init(host: String = "127.0.0.1", port: Int, logFile: String? = nil, maxMessageSize: Int = 1 << 20,
                maxPendingSlowRequests: Int = 10_000, maxConnections: Int = 10_000, tls: TLSServerConfiguration? = nil,
                idleTimeout: Duration? = nil, drainTimeout: Duration? = .seconds(60)) {
        self.idleTimeout = idleTimeout
        self.drainTimeout = drainTimeout
        self.tls = tls
        self.host = host
        self.port = port
        self.logFile = logFile
        self.maxMessageSize = maxMessageSize
        self.maxPendingSlowRequests = maxPendingSlowRequests
        self.maxConnections = maxConnections
    }

    /// The keys a config file may use.
    public static let fileKeys = ["port", "host", "log_file", "max_message_size"]

    /// Reads a config file.
    /// - Parameter path: The file; a relative `log_file` in it is taken from its folder.
    /// - Returns: The configuration.
    /// - Throws: ``FastSlowConfigurationError``.
    public static func load(path: String) throws(FastSlowConfigurationError) -> FastSlowServerConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(path: path, reason: "not UTF-8 text") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(text, path: path, folder: folder)
    }

    /// Reads a config file's text.
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - path: The file's name, for error messages.
    ///   - folder: Where a relative `log_file` is.
    /// - Returns: The configuration.
    /// - Throws: ``FastSlowConfigurationError``.
    public static func parse(_ text: String, path: String, folder: String) throws(FastSlowConfigurationError) -> FastSlowServerConfiguration {
        var values: [String: (value: String, line: Int)] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let line = content.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            guard !line.isEmpty else { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw .malformedLine(path: path, line: lineNumber, text: String(rawLine))
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard fileKeys.contains(key) else { throw .unknownKey(path: path, line: lineNumber, key: key) }
            if let earlier = values[key] { throw .duplicateKey(path: path, line: lineNumber, key: key, firstLine: earlier.line) }
            values[key] = (value, lineNumber)
        }
        guard let port = values["port"] else { throw .missingKey(path: path, key: "port") }
        guard let portNumber = Int(port.value), (0...65_535).contains(portNumber) else {
            throw .badValue(path: path, line: port.line, key: "port", value: port.value, expected: "a port number 0...65535")
        }
        var configuration = FastSlowServerConfiguration(port: portNumber)
        if let host = values["host"] {
            guard !host.value.isEmpty, !host.value.contains(where: \.isWhitespace) else {
                throw .badValue(path: path, line: host.line, key: "host", value: host.value, expected: "a host name or address")
            }
            configuration.host = host.value
        }
        if let log = values["log_file"] {
            guard !log.value.isEmpty else { throw .badValue(path: path, line: log.line, key: "log_file", value: log.value, expected: "a file path") }
            configuration.logFile = log.value.hasPrefix("/") ? log.value : URL(fileURLWithPath: folder).appendingPathComponent(log.value).path
        }
        if let size = values["max_message_size"] {
            guard let bytes = Int(size.value), (1...(64 << 20)).contains(bytes) else {
                throw .badValue(path: path, line: size.line, key: "max_message_size", value: size.value, expected: "bytes, 1...67108864")
            }
            configuration.maxMessageSize = bytes
        }
        return configuration
    }
}

/// Why a FastSlow config file cannot be used; each names the file, and the line and key at fault.
public enum FastSlowConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file is missing or unreadable.
    case unreadable(path: String, reason: String)
    /// A line that is neither blank, a comment, nor `key = value`.
    case malformedLine(path: String, line: Int, text: String)
    /// A key the server does not know.
    case unknownKey(path: String, line: Int, key: String)
    /// A key given twice.
    case duplicateKey(path: String, line: Int, key: String, firstLine: Int)
    /// A required key is absent.
    case missingKey(path: String, key: String)
    /// A value out of range or of the wrong kind.
    case badValue(path: String, line: Int, key: String, value: String, expected: String)

    /// A readable explanation.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read the config file: \(reason)"
        case .malformedLine(let path, let line, let text): "\(path):\(line): expected `key = value`, found `\(text)`"
        case .unknownKey(let path, let line, let key):
            "\(path):\(line): unknown key `\(key)` (known: \(FastSlowServerConfiguration.fileKeys.joined(separator: ", ")))"
        case .duplicateKey(let path, let line, let key, let first): "\(path):\(line): `\(key)` is already set on line \(first)"
        case .missingKey(let path, let key): "\(path): `\(key)` is required"
        case .badValue(let path, let line, let key, let value, let expected): "\(path):\(line): `\(key) = \(value)`: expected \(expected)"
        }
    }
}
