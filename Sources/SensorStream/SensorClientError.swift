/// The one error type ``SensorClient`` throws. Switch on it.
public enum SensorClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A sensor id that is empty or longer than 40 characters. Nothing was sent.
    case invalidSensorID(String)
    /// A port outside 1...65535, or a String port that is not decimal digits.
    case invalidPort(String)
    /// The server did not answer within ``SensorClient/Configuration/requestTimeout``.
    case timeout
    /// The client is not connected: ``SensorClient/connect()`` was never called (or the first
    /// connect failed). A ``SensorClient/sensorConnected(_:)`` still waiting when reconnecting
    /// gives up fails with this too; calls made after that throw ``disconnected``.
    case notConnected
    /// The client is closed for good: the app called ``SensorClient/disconnect()``, or
    /// reconnecting gave up (for calls made afterwards); this client is done.
    case disconnected
    /// The connection could not be opened: refused, unreachable, name resolution, timeout.
    case connectionFailed(reason: String)
    /// The server broke the WebSocket protocol: a bad handshake response (wrong status,
    /// missing or wrong `Sec-WebSocket-Accept` ...). Thrown by ``SensorClient/connect()``; by
    /// ``SensorClient/history(_:field:from:to:maxPoints:)`` for an answer it cannot read.
    case protocolViolation(String)
    /// TLS could not be set up (`wss://`): the server's certificate was rejected (expired,
    /// wrong name, untrusted), the server does not speak TLS, or this build has no TLS
    /// (``TLSError/unavailable``: build with `--traits TLS`). Thrown by ``SensorClient/connect()``
    /// and, for a build without TLS, by ``SensorClient/init(url:configuration:clock:)``.
    case tls(TLSError)
    /// The calling task was cancelled: the call stopped waiting (a request already sent is
    /// still answered, and the answer is not delivered to it).
    case cancelled
    /// A URL that is not `ws://HOST[:PORT][/PATH]` or `wss://HOST[:PORT][/PATH]`.
    case invalidURL(String)
    /// The hub answered a request with an error status and reason: for
    /// ``SensorClient/history(_:field:from:to:maxPoints:)`` 400 (a wrong request), 429 (too many
    /// requests a second) or 503 (the hub records no history, or its store cannot be read).
    case requestRefused(status: Int, reason: String)
    /// An argument that cannot make a valid request (nothing was sent).
    case invalidArgument(String)

    /// A readable explanation, for logs and messages.
    public var description: String {
        switch self {
        case .invalidSensorID(let id): "invalid sensor id \"\(id)\" (1 to 40 characters)"
        case .invalidPort(let port): "invalid port \"\(port)\" (1 to 65535)"
        case .timeout: "the server did not answer in time"
        case .notConnected: "not connected"
        case .disconnected: "the client was disconnected"
        case .connectionFailed(let reason): "connection failed: \(reason)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        case .tls(let error): error.description
        case .cancelled: "cancelled"
        case .invalidURL(let url): "invalid URL \"\(url)\" (expected ws://HOST[:PORT][/PATH] or wss://...)"
        case .requestRefused(let status, let reason): "the hub refused the request (\(status)): \(reason)"
        case .invalidArgument(let what): "invalid argument: \(what)"
        }
    }

    /// Sensor ids are 1 to 40 characters.
    static func validate(sensorID: String) throws(SensorClientError) {
        guard (1...40).contains(sensorID.count) else { throw .invalidSensorID(sensorID) }
    }
}
