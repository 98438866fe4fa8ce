/// The sans-I/O state of one WebSocket connection after its opening handshake: frames in,
/// frames out, the close handshake and automatic pongs (RFC 6455 sections 5 to 7).
///
/// The owner feeds it received bytes and gets events back; it asks it to send messages,
/// pings and closes, and writes whatever ``pendingOutputCount`` bytes it accumulates to the
/// socket. It never touches a socket, a clock or a thread, so every rule is testable with
/// byte vectors.
///
/// Closing is explicit in both directions, so that an owner can let its application see (and
/// answer) every message that arrived before a close or a protocol error:
/// - A received close frame ends reading (``Event/closeReceived(_:)``); the reply goes out
///   when the owner calls ``finishClosing()``.
/// - A protocol violation ends reading (``Event/failed(_:)``); the close frame with its code
///   (1002, 1007, 1009) goes out when the owner calls ``finishClosing()``.
package struct WebSocketSession: Sendable {
    /// Which end of the connection this session is.
    package enum Role: Sendable {
        /// Masks what it sends; expects unmasked frames.
        case client
        /// Sends unmasked frames; expects masked ones.
        case server
    }

    /// Limits on what the peer may send.
    package struct Configuration: Sendable, Hashable {
        /// The largest frame payload accepted (1009 beyond it). Default 1 MiB.
        package var maxFrameSize: Int
        /// The largest message accepted, summed over its fragments (1009 beyond it). Default 1 MiB.
        package var maxMessageSize: Int

        package init(maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 1 << 20) {
            self.maxFrameSize = maxFrameSize
            self.maxMessageSize = maxMessageSize
        }
    }

    /// Something the peer sent. Payloads may be lent from the input buffer (see ``AssembledPayload``).
    package enum Event {
        /// A complete, UTF-8-validated text message.
        case text(AssembledPayload)
        /// A complete binary message.
        case binary(AssembledPayload)
        /// A ping; its pong is already queued.
        case ping(AssembledPayload)
        /// A pong.
        case pong(AssembledPayload)
        /// The peer's close frame. Reading has ended. If this session had not sent a close, the
        /// reply is queued by ``finishClosing()``.
        case closeReceived(WebSocketCloseFrame)
        /// The peer broke the protocol or a limit. Reading has ended; ``finishClosing()`` queues
        /// the close frame with the error's code.
        case failed(WebSocketProtocolError)
    }

    /// How the connection ended.
    package struct Closure: Sendable, Hashable {
        /// Who sent the first close frame (or broke the connection).
        package enum Initiator: Sendable, Hashable { case local, remote }
        /// The code in the peer's close frame; 1005 if it had none, 1006 if none arrived.
        package var code: WebSocketCloseCode
        /// The reason in the peer's close frame.
        package var reason: String
        package var initiator: Initiator
        /// The protocol violation that failed the connection, if one did.
        package var error: WebSocketProtocolError?
        /// Both close frames were exchanged.
        package var isClean: Bool
    }

    /// Thrown by the send functions.
    package enum SendError: Error, Hashable, Sendable {
        /// A close frame was already sent (or the connection is gone): nothing more may be sent.
        case closed
        /// A control frame payload over 125 bytes.
        case controlPayloadTooLong
    }

    private enum State: Sendable {
        /// Both directions open.
        case open
        /// This side sent a close frame and reads until the peer's close.
        case closeSent(WebSocketCloseFrame)
        /// The peer sent a close frame; this side's reply waits for ``finishClosing()``.
        case closeReceived(WebSocketCloseFrame)
        /// Reading found a protocol error; this side's close waits for ``finishClosing()``.
        case failing(WebSocketProtocolError)
        /// Nothing more is read or sent.
        case closed(Closure)
    }

    package let role: Role
    package let configuration: Configuration
    private var state: State = .open
    private var decoder: FrameDecoder
    private var assembler: MessageAssembler
    /// The decompressor for the peer's messages, when permessage-deflate was negotiated.
    package var decompressor: DeflateDecompressor? { assembler.decompressor }
    private var maskingKeys: any MaskingKeySource
    private var output: [UInt8] = []
    private var outputStart = 0
    /// This side's compressor when permessage-deflate was negotiated (one reference: an idle
    /// connection without compression pays 8 bytes for it).
    private let compressor: DeflateCompressor?

    /// Creates the session for a connection whose handshake just completed.
    /// - Parameters:
    ///   - maskingKeys: Where a client's masking keys come from (default: the CSPRNG).
    ///   - deflate: permessage-deflate as the handshake negotiated it (RFC 7692), or nil.
    package init(role: Role, configuration: Configuration = .init(),
                 maskingKeys: any MaskingKeySource = SecureRandomMaskingKeys(), deflate: PerMessageDeflate? = nil) {
        self.role = role
        self.configuration = configuration
        self.decoder = FrameDecoder(role: role == .client ? .client : .server, maxFrameSize: configuration.maxFrameSize,
                                    allowedReservedBits: deflate == nil ? 0 : 0b100)
        self.assembler = MessageAssembler(maxMessageSize: configuration.maxMessageSize, deflate: deflate)
        self.maskingKeys = maskingKeys
        compressor = deflate.map(DeflateCompressor.init(settings:))
    }

    // MARK: State

    /// Whether received bytes are still processed (open, or waiting for the peer's close).
    package var isReading: Bool {
        switch state {
        case .open, .closeSent: true
        default: false
        }
    }

    /// Whether data frames may still be sent: until this side's close frame is queued.
    package var canSend: Bool {
        switch state {
        case .open, .closeReceived, .failing: true
        default: false
        }
    }

    /// Whether ``finishClosing()`` has a close frame to send.
    package var needsFinishClosing: Bool {
        switch state {
        case .closeReceived, .failing: true
        default: false
        }
    }

    /// Set once the connection is over for this session: both closes exchanged, a failure's
    /// close sent, or the transport lost.
    package var closure: Closure? {
        if case .closed(let closure) = state { return closure }
        return nil
    }

    // MARK: Receiving

    /// Processes received bytes, calling `onEvent` for each thing they complete, in order.
    ///
    /// Payloads handed to `onEvent` may point into `input`: use them before returning. Stops
    /// at a close frame or a protocol error (bytes after it are ignored). Does nothing once
    /// reading has ended.
    package mutating func receive(_ input: UnsafeMutableRawBufferPointer, _ onEvent: (Event) -> Void) {
        guard isReading else { return }
        var cursor = 0
        do throws(WebSocketProtocolError) {
            while let part = try decoder.nextPart(in: input, cursor: &cursor) {
                guard let output = try assembler.consume(part) else { continue }
                switch output {
                case .text(let payload):
                    onEvent(.text(payload))
                case .binary(let payload):
                    onEvent(.binary(payload))
                case .ping(let payload):
                    if case .open = state {
                        payload.withUnsafeBytes { appendFrame(.pong, payload: $0) }
                    }
                    onEvent(.ping(payload))
                case .pong(let payload):
                    onEvent(.pong(payload))
                case .close(let payload):
                    let frame = try WebSocketCloseFrame(parsing: payload)
                    closeReceived(frame)
                    onEvent(.closeReceived(frame))
                    return
                }
            }
        } catch {
            fail(error)
            onEvent(.failed(error))
        }
    }

    private mutating func closeReceived(_ frame: WebSocketCloseFrame) {
        switch state {
        case .open:
            state = .closeReceived(frame)
        case .closeSent:
            state = .closed(Closure(code: frame.code ?? .noStatusReceived, reason: frame.reason,
                                    initiator: .local, error: nil, isClean: true))
        default:
            preconditionFailure("Internal inconsistency: a close frame read in state \(state)")
        }
    }

    private mutating func fail(_ error: WebSocketProtocolError) {
        switch state {
        case .open:
            state = .failing(error)
        case .closeSent:
            // Our close is already out: the connection simply ends.
            state = .closed(Closure(code: .abnormalClosure, reason: "", initiator: .local, error: error, isClean: false))
        default:
            preconditionFailure("Internal inconsistency: a protocol error read in state \(state)")
        }
    }

    // MARK: Sending

    /// Queues one data frame (a whole message, or one fragment of it), never compressed.
    /// - Throws: ``SendError/closed`` once this side's close frame is queued.
    package mutating func send(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, fin: Bool = true) throws(SendError) {
        guard canSend else { throw .closed }
        appendFrame(opcode, payload: payload, fin: fin)
    }

    /// Queues a text message.
    package mutating func sendText(_ text: String) throws(SendError) {
        guard canSend else { throw .closed }
        var text = text
        text.withUTF8 { appendMessage(.text, payload: UnsafeRawBufferPointer($0)) }
    }

    /// Queues text messages framed once for many connections: their frames are copied as
    /// they are on a server connection without permessage-deflate, and each text is framed
    /// anew otherwise (masked, or compressed).
    package mutating func sendText(_ messages: EncodedTextMessages) throws(SendError) {
        guard canSend else { throw .closed }
        guard role == .server, compressor == nil, let frames = messages.serverFrames else {
            for var text in messages.texts {
                text.withUTF8 { appendMessage(.text, payload: UnsafeRawBufferPointer($0)) }
            }
            return
        }
        output.append(contentsOf: frames)
    }

    /// Queues a binary message.
    package mutating func sendBinary(_ bytes: [UInt8]) throws(SendError) {
        guard canSend else { throw .closed }
        bytes.withUnsafeBytes { appendMessage(.binary, payload: $0) }
    }

    /// Queues a whole message in one frame, compressed when permessage-deflate was negotiated
    /// and the message is long enough (RSV1 set); uncompressed otherwise.
    private mutating func appendMessage(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        guard let compressor, payload.count >= compressor.minimumSize else {
            appendFrame(opcode, payload: payload)
            return
        }
        let key = role == .client ? maskingKeys.nextKey() : nil
        compressor.compress(payload, reset: compressor.resetsAfterEachMessage) { compressed in
            FrameEncoder.append(opcode: opcode, reservedBits: 0b100, payload: compressed, maskingKey: key, to: &output)
        }
    }

    /// Queues a ping (at most 125 bytes of payload).
    package mutating func sendPing(_ payload: [UInt8] = []) throws(SendError) {
        guard case .open = state else { throw .closed }
        guard payload.count <= 125 else { throw .controlPayloadTooLong }
        payload.withUnsafeBytes { appendFrame(.ping, payload: $0) }
    }

    /// Starts the closing handshake: queues a close frame. Returns false if this side has
    /// already sent one. If the peer's close is pending an answer, answers it instead.
    @discardableResult
    package mutating func close(_ frame: WebSocketCloseFrame = .init(code: .normalClosure)) -> Bool {
        switch state {
        case .open:
            appendClose(frame)
            state = .closeSent(frame)
            return true
        case .closeReceived, .failing:
            finishClosing()
            return true
        case .closeSent, .closed:
            return false
        }
    }

    /// Queues the close frame a received close or a protocol error calls for: the peer's
    /// status code echoed (RFC 6455 section 5.5.1), or the error's code and reason.
    package mutating func finishClosing() {
        switch state {
        case .closeReceived(let received):
            appendClose(WebSocketCloseFrame(code: received.code))
            state = .closed(Closure(code: received.code ?? .noStatusReceived, reason: received.reason,
                                    initiator: .remote, error: nil, isClean: true))
        case .failing(let error):
            appendClose(WebSocketCloseFrame(code: error.closeCode, reason: error.description))
            state = .closed(Closure(code: .abnormalClosure, reason: "", initiator: .local, error: error, isClean: false))
        default:
            break
        }
    }

    /// Records that the transport is gone (EOF, reset, timeout). Nothing more is read or sent.
    package mutating func transportClosed() {
        switch state {
        case .closed:
            return
        case .closeSent:
            state = .closed(Closure(code: .abnormalClosure, reason: "", initiator: .local, error: nil, isClean: false))
        case .closeReceived(let received):
            state = .closed(Closure(code: received.code ?? .noStatusReceived, reason: received.reason,
                                    initiator: .remote, error: nil, isClean: false))
        case .failing(let error):
            state = .closed(Closure(code: .abnormalClosure, reason: "", initiator: .local, error: error, isClean: false))
        case .open:
            state = .closed(Closure(code: .abnormalClosure, reason: "", initiator: .remote, error: nil, isClean: false))
        }
        output.removeAll()
        outputStart = 0
    }

    private mutating func appendClose(_ frame: WebSocketCloseFrame) {
        frame.payload.withUnsafeBytes { appendFrame(.close, payload: $0) }
    }

    private mutating func appendFrame(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, fin: Bool = true) {
        let key = role == .client ? maskingKeys.nextKey() : nil
        FrameEncoder.append(opcode: opcode, fin: fin, payload: payload, maskingKey: key, to: &output)
    }

    // MARK: Output

    /// Bytes queued for the socket and not yet written.
    package var pendingOutputCount: Int { output.count - outputStart }

    /// Hands the queued bytes to `write`, which returns how many it wrote (0 if the socket
    /// cannot take more now); those are dropped from the queue. Returns that count.
    @discardableResult
    package mutating func writePendingOutput(_ write: (UnsafeRawBufferPointer) -> Int) -> Int {
        guard pendingOutputCount > 0 else { return 0 }
        let written = output.withUnsafeBytes { write(UnsafeRawBufferPointer(rebasing: $0[outputStart...])) }
        precondition(written >= 0 && written <= pendingOutputCount, "Internal inconsistency: wrote \(written) bytes")
        outputStart += written
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
            outputStart = 0
        } else if outputStart > 1 << 16 && outputStart * 2 > output.count {
            output.removeFirst(outputStart)
            outputStart = 0
        }
        return written
    }

    /// Takes every queued byte at once, without copying when nothing was partly written.
    package mutating func takeOutput() -> [UInt8] {
        guard outputStart == 0 else { return takePendingOutput() }
        defer { output = [] }
        return output
    }

    /// Takes back a buffer ``takeOutput()`` handed out and the socket has written: when
    /// nothing is queued, the next frames are written into its memory (no allocation).
    package mutating func reclaimOutput(_ buffer: inout [UInt8]) {
        guard output.isEmpty, outputStart == 0, buffer.capacity > output.capacity, buffer.capacity <= 1 << 16 else { return }
        buffer.removeAll(keepingCapacity: true)
        swap(&output, &buffer)
    }

    /// Takes every queued byte at once (tests and tools).
    package mutating func takePendingOutput() -> [UInt8] {
        var taken: [UInt8] = []
        writePendingOutput { bytes in
            taken = Array(bytes)
            return bytes.count
        }
        return taken
    }
}
