/// A complete message received or sent over a WebSocket connection.
package enum WebSocketMessage: Sendable, Hashable, CustomStringConvertible {
    /// A text message (validated UTF-8).
    case text(String)
    /// A binary message.
    case binary([UInt8])

    package var description: String {
        switch self {
        case .text(let text): "text(\(text.utf8.count) bytes)"
        case .binary(let bytes): "binary(\(bytes.count) bytes)"
        }
    }
}
