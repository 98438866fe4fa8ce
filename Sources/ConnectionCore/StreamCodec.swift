/// A wire protocol as a sans-I/O value: bytes in, messages and protocol events out; messages
/// in, bytes out; and the protocol's rules for closing. ``StreamConnection`` runs any codec
/// over TCP on an ``EventLoop``, with the same buffers, backpressure, timers and close
/// handling for all of them.
///
/// The connection holds its codec as `any StreamCodec` and carries messages as `any Sendable`:
/// the I/O core is compiled once, concretely, and never instantiates generic metadata on its
/// hot path (a generic core measured 3.4 M messages/s through codec and inbox, five times
/// slower than the codec alone). A protocol names its message types by adopting
/// ``MessageCodec``, and its edge holds a ``CodecConnection`` typed by them, which makes the
/// casts between `any Sendable` and the protocol's types. (WebSocket, whose connections carry
/// the most and smallest messages, makes its two casts in `WebSocketCodec` and
/// `WebSocketConnection`, concretely: see ``MessageCodec``.)
///
/// A codec never touches a socket, a clock or a thread, so every rule is testable with bytes.
package protocol StreamCodec: Sendable {
    /// Processes received bytes and appends what they complete, in order. Payloads may be lent
    /// from `input` while this runs. Does nothing once ``isReading`` is false.
    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent])

    /// Queues `message` (one of the protocol's outbound message types) for the peer.
    /// - Throws: ``ConnectionError/closed`` once the protocol sends nothing more;
    ///   ``ConnectionError/rejected(_:)`` for a message it cannot send.
    mutating func send(_ message: any Sendable) throws(ConnectionError)

    /// Starts this side's closing (e.g. queues a close frame) as `request` describes it.
    mutating func startClose(_ request: any Sendable)

    /// Whether received bytes are still processed.
    var isReading: Bool { get }

    /// Takes every byte queued for the peer (frames the application sent, automatic answers
    /// such as pongs, close frames). Empty when there is nothing.
    mutating func takeOutput() -> [UInt8]

    /// Takes back an output buffer that was written whole (see the default in the extension).
    mutating func reclaimOutputBuffer(_ buffer: inout [UInt8])

    /// Whether a close the peer started (or a protocol error) still needs this side's answer,
    /// which ``finishClosing()`` queues. The connection calls it once the application has
    /// taken every message that arrived before (or after its close timeout).
    var needsFinishClosing: Bool { get }

    /// Queues this side's answer to the peer's close or to a protocol error.
    mutating func finishClosing()

    /// Whether the protocol considers the conversation over (both closes exchanged, an error's
    /// close sent); the connection then flushes and closes the transport.
    var isClosed: Bool { get }

    /// After ``isClosed``: whether this side closes TCP as soon as its output is written (a
    /// WebSocket server), or waits for the peer to close first (a WebSocket client, RFC 6455
    /// section 7.1.1), at most the close timeout.
    var closesTransportFirst: Bool { get }

    /// The transport is gone (EOF, reset, abort): returns how the connection ended, as the
    /// protocol describes it (a WebSocket close code ...).
    mutating func transportClosed() -> any Sendable

    /// Queues a liveness probe carrying `id` (a WebSocket ping); false when the protocol has
    /// none or cannot send now. Its answer comes back as ``CodecEvent/probeAnswered(_:)``.
    mutating func sendProbe(id: UInt64) -> Bool

    /// Told once, before any input, what the connection's handshake learned (its
    /// ``HandshakeProgress/complete(reply:leftover:result:)`` result), for codecs whose
    /// framing depends on what was negotiated (WebSocket extensions).
    mutating func handshakeCompleted(_ result: any Sendable)
}

extension StreamCodec {
    /// Nothing negotiated matters to the codec by default.
    package mutating func handshakeCompleted(_ result: any Sendable) {}

    /// Takes back an output buffer that was written whole, to reuse its memory for the next
    /// output. The default keeps nothing.
    package mutating func reclaimOutputBuffer(_ buffer: inout [UInt8]) {}
}

/// Something a codec's ``StreamCodec/receive(_:into:)`` found.
package enum CodecEvent: Sendable {
    /// A complete message for the application, and its size in bytes (for buffer accounting).
    case message(any Sendable, byteCount: Int)
    /// The answer to probe `id` (and to every earlier probe).
    case probeAnswered(UInt64)
    /// Reading has ended: the peer closed, or broke a protocol that answers with a close of
    /// its own (WebSocket). If ``StreamCodec/needsFinishClosing`` is set, the answer waits
    /// until the application has taken every message before this point.
    case inputEnded
    /// The peer broke the protocol (a malformed message, a frame too large). The codec's last
    /// event: it reads nothing more (``StreamCodec/isReading`` false), as after ``inputEnded``.
    /// The consumer receives `error` after every message before it (``Received/failed(_:)`` on
    /// a ``CodecConnection``), then the end. `error` is the codec's ``MessageCodec/Failure``.
    case failed(any Error & Sendable)
}

/// A codec whose protocol has no close handshake and no liveness probe (a line or
/// length-prefixed protocol): closing is closing TCP once the output is written, by this side.
/// It gets those members of ``StreamCodec`` here.
package protocol TransportClosingCodec: StreamCodec {}

extension TransportClosingCodec {
    /// Nothing to answer: the peer's close is the end of the stream.
    package var needsFinishClosing: Bool { false }
    /// Nothing to queue.
    package mutating func finishClosing() {}
    /// This side closes TCP as soon as its output is written.
    package var closesTransportFirst: Bool { true }
    /// No probe in the protocol.
    package mutating func sendProbe(id: UInt64) -> Bool { false }
}

/// A ``TransportClosingCodec`` that keeps its outbound bytes in ``output`` and its end in
/// ``closed``: taking the output, closing and the transport's end are the same for all of them
/// and come from here. A codec only decodes, encodes into ``output``, and says whether it reads.
package protocol BufferedTransportCodec: TransportClosingCodec {
    /// Bytes queued for the peer.
    var output: [UInt8] { get set }
    /// This side closed, or the transport ended: nothing more is sent.
    var closed: Bool { get set }
}

extension BufferedTransportCodec {
    /// Closing is marking closed; TCP closes once the output is written.
    package mutating func startClose(_ request: any Sendable) { closed = true }
    /// Takes the queued bytes.
    package mutating func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }
    /// Closed once this side closed or the transport ended.
    package var isClosed: Bool { closed }
    /// The transport ended: closed, reported as "closed".
    package mutating func transportClosed() -> any Sendable {
        closed = true
        return "closed"
    }
}
