/// A request a ``FastSlowClient`` sends.
public enum FastSlowRequest: Sendable, Hashable, CustomStringConvertible {
    /// `RequestForFastResponse`: the server's time, at once.
    case fast
    /// `RequestForSlowResponse`: the connected-client count, after sleeping this many seconds.
    case slow(seconds: UInt32)

    /// The message on the wire.
    public var message: WrapperMessage {
        switch self {
        case .fast: .requestForFastResponse
        case .slow(let seconds): .requestForSlowResponse(RequestForSlowResponse(timeInSecondsToSleep: seconds))
        }
    }

    /// `fast`, or `slow N`.
    public var description: String {
        switch self {
        case .fast: "fast"
        case .slow(let seconds): "slow \(seconds)"
        }
    }
}

/// The server's answer to a ``FastSlowRequest``.
public enum FastSlowAnswer: Sendable, Hashable, CustomStringConvertible {
    /// The answer to ``FastSlowRequest/fast``.
    case fast(FastResponse)
    /// The answer to ``FastSlowRequest/slow(seconds:)``: clients connected when it arrived.
    case slow(connectedClients: UInt32)

    /// The answer to `request` in `message`; nil when `message` does not answer it.
    init?(_ message: WrapperMessage, answering request: FastSlowRequest) {
        switch (request, message) {
        case (.fast, .fastResponse(let response)): self = .fast(response)
        case (.slow, .slowResponse(let response)): self = .slow(connectedClients: response.connectedClientCount)
        default: return nil
        }
    }

    /// `fast 19851019T050107.333`, or `slow 3 clients`.
    public var description: String {
        switch self {
        case .fast(let response): "fast \(response.currentDateTime)"
        case .slow(let count): "slow \(count) client\(count == 1 ? "" : "s")"
        }
    }
}
