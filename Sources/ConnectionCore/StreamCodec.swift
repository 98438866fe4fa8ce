/// A wire protocol as a sans-I/O value: bytes in, messages and protocol events out; messages
/// in (through the protocol's own `mutating` send methods), bytes out; and the protocol's
/// rules for closing. ``StreamConnection`` runs any codec over TCP on an ``EventLoop``, with
/// the same buffers, backpressure, timers and close handling for all of them.
///
/// A codec never touches a socket, a clock or a thread, so every rule is testable with bytes.
package protocol StreamCodec: Sendable {
    /// What the application receives.
    associatedtype Message: Sendable
    /// How a connection ended, as the protocol describes it (a WebSocket close code ...).
    associatedtype Closure: Sendable

    /// Processes received bytes and appends what they complete, in order. Payloads may be lent
    /// from `input` while this runs. Does nothing once ``isReading`` is false.
    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent<Message>])

    /// Whether received bytes are still processed.
    var isReading: Bool { get }

    /// Takes every byte queued for the peer (frames the application sent, automatic answers
    /// such as pongs, close frames). Empty when there is nothing.
    mutating func takeOutput() -> [UInt8]

    /// Whether a close the peer started (or a protocol error) still needs this side's answer,
    /// which ``finishClosing()`` queues. The connection calls it once the application has
    /// taken every message that arrived before (or after its close timeout).
    var needsFinishClosing: Bool { get }

    /// Queues this side's answer to the peer's close or to a protocol error.
    mutating func finishClosing()

    /// Set once the protocol considers the conversation over (both closes exchanged, an
    /// error's close sent); the connection then flushes and closes the transport.
    var closure: Closure? { get }

    /// After ``closure`` is set: whether this side closes TCP as soon as its output is written
    /// (a WebSocket server), or waits for the peer to close first (a WebSocket client,
    /// RFC 6455 section 7.1.1), at most the close timeout.
    var closesTransportFirst: Bool { get }

    /// The transport is gone (EOF, reset, abort): returns how the connection ended.
    mutating func transportClosed() -> Closure

    /// Queues a liveness probe carrying `id` (a WebSocket ping); false when the protocol has
    /// none or cannot send now. Its answer comes back as ``CodecEvent/probeAnswered(_:)``.
    mutating func sendProbe(id: UInt64) -> Bool
}

/// Something a codec's ``StreamCodec/receive(_:into:)`` found.
package enum CodecEvent<Message> {
    /// A complete message for the application, and its size in bytes (for buffer accounting).
    case message(Message, byteCount: Int)
    /// The answer to probe `id` (and to every earlier probe).
    case probeAnswered(UInt64)
    /// Reading has ended: the peer closed, or broke the protocol. If
    /// ``StreamCodec/needsFinishClosing`` is set, the answer waits until the application has
    /// taken every message before this point.
    case inputEnded
}
