/// The opcode of a WebSocket frame (RFC 6455 section 5.2).
///
/// Only the six opcodes RFC 6455 defines exist here: a frame with any other opcode is a
/// protocol error (close code 1002), rejected by ``FrameDecoder`` before its payload is read.
package enum WebSocketOpcode: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// A continuation fragment of a text or binary message.
    case continuation = 0x0
    /// The first (or only) frame of a UTF-8 text message.
    case text = 0x1
    /// The first (or only) frame of a binary message.
    case binary = 0x2
    /// A close frame: optional 2-byte status code, then an optional UTF-8 reason.
    case close = 0x8
    /// A ping: the peer must answer with a pong carrying the same payload.
    case ping = 0x9
    /// A pong: the answer to a ping, or an unsolicited heartbeat.
    case pong = 0xA

    /// Control frames (close, ping, pong) carry at most 125 bytes and are never fragmented.
    @inlinable
    package var isControl: Bool { rawValue & 0x8 != 0 }

    package var description: String {
        switch self {
        case .continuation: "continuation"
        case .text: "text"
        case .binary: "binary"
        case .close: "close"
        case .ping: "ping"
        case .pong: "pong"
        }
    }
}
