import ConnectionCore
import WebSocketCore

/// What a ``WebSocketCodec`` sends (``StreamConnection/send(_:)`` and friends).
package enum WebSocketOutbound: Sendable {
    /// A text message.
    case text(String)
    /// Text messages, in order.
    case texts([String])
    /// Text messages framed once for many connections, in order.
    case encoded([EncodedTextMessages])
    /// A binary message.
    case binary([UInt8])
    /// One raw data frame (tests and conformance tools that need fragments).
    case frame(WebSocketOpcode, payload: [UInt8], fin: Bool)
}

/// What the opening handshake learned, kept by the connection for the typed API.
struct WebSocketHandshakeResult: Sendable {
    /// The request target: the client's path, or the path the server was asked for.
    var path: String
    /// The request head (server side) or response head (client side).
    var head: HTTPHead
    /// The permessage-deflate parameters agreed on, if any.
    var deflate: PerMessageDeflateParameters?
}

/// RFC 6455 after the opening handshake, as a ``StreamCodec``: ``WebSocketSession`` (frames,
/// UTF-8, fragments, pings, the close handshake). Delivers ``WebSocketMessage``s, sends
/// ``WebSocketOutbound``s, closes with a ``WebSocketCloseFrame``, ends with a
/// ``WebSocketSession/Closure``.
package struct WebSocketCodec: StreamCodec, MessageCodec {
    /// A text or binary message (control frames are handled inside).
    package typealias Inbound = WebSocketMessage
    package typealias Outbound = WebSocketOutbound

    /// The frame-level state.
    package var session: WebSocketSession

    /// What a handshake that agrees on permessage-deflate needs to rebuild the session; nil
    /// when this side does not offer it (one reference, so an idle plain connection stays small).
    private let pendingDeflate: PendingDeflate?

    private final class PendingDeflate: Sendable {
        let configuration: PerMessageDeflateConfiguration
        let maskingKeys: any MaskingKeySource
        init(configuration: PerMessageDeflateConfiguration, maskingKeys: any MaskingKeySource) {
            self.configuration = configuration
            self.maskingKeys = maskingKeys
        }
    }

    /// A codec for `role` with these limits.
    /// - Parameters:
    ///   - deflateConfiguration: This side's permessage-deflate configuration, used when the
    ///     handshake (``handshakeCompleted(_:)``) or `deflate` says it was agreed on.
    ///   - deflate: Parameters already agreed on (a server that answered the upgrade itself).
    package init(role: WebSocketSession.Role, limits: WebSocketSession.Configuration,
                 maskingKeys: any MaskingKeySource = SecureRandomMaskingKeys(),
                 deflateConfiguration: PerMessageDeflateConfiguration? = nil,
                 deflate: PerMessageDeflateParameters? = nil) {
        pendingDeflate = deflate == nil ? deflateConfiguration.map { PendingDeflate(configuration: $0, maskingKeys: maskingKeys) } : nil
        let settings = deflate.flatMap { parameters in
            deflateConfiguration.map { PerMessageDeflate(parameters: parameters, isServer: role == .server, configuration: $0) }
        }
        session = WebSocketSession(role: role, configuration: limits, maskingKeys: maskingKeys, deflate: settings)
    }

    package mutating func handshakeCompleted(_ result: any Sendable) {
        guard let pendingDeflate, let parameters = (result as? WebSocketHandshakeResult)?.deflate else { return }
        session = WebSocketSession(role: session.role, configuration: session.configuration, maskingKeys: pendingDeflate.maskingKeys,
                                   deflate: PerMessageDeflate(parameters: parameters, isServer: session.role == .server,
                                                              configuration: pendingDeflate.configuration))
    }

    /// The untyped entry the core calls, written out here rather than taken from
    /// ``MessageCodec``'s generic bridge (see the note there: the generic path measured slower
    /// on WebSocket's many small messages).
    package mutating func send(_ message: any Sendable) throws(ConnectionError) {
        guard let outbound = message as? WebSocketOutbound else {
            throw .rejected("WebSocketCodec sends WebSocketOutbound, not \(type(of: message))")
        }
        try queue(outbound)
    }

    package mutating func queue(_ outbound: WebSocketOutbound) throws(ConnectionError) {
        do throws(WebSocketSession.SendError) {
            switch outbound {
            case .text(let text):
                try session.sendText(text)
            case .texts(let texts):
                for text in texts { try session.sendText(text) }
            case .encoded(let groups):
                for messages in groups { try session.sendText(messages) }
            case .binary(let bytes):
                try session.sendBinary(bytes)
            case .frame(let opcode, let payload, let fin):
                guard session.canSend else { throw .closed }
                payload.withUnsafeBytes { try? session.send(opcode, payload: $0, fin: fin) }
            }
        } catch {
            throw error == .closed ? .closed : .rejected("control payload over 125 bytes")
        }
    }

    package mutating func startClose(_ request: any Sendable) {
        session.close(request as? WebSocketCloseFrame ?? WebSocketCloseFrame(code: .normalClosure))
    }

    package mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        session.receive(input) { event in
            switch event {
            case .text(let payload): events.append(.message(WebSocketMessage.text(payload.string), byteCount: payload.count))
            case .binary(let payload): events.append(.message(WebSocketMessage.binary(payload.array), byteCount: payload.count))
            case .ping: break  // the pong is already queued
            case .pong(let payload):
                // Our probes carry their number in 8 bytes; other pongs are unsolicited.
                if payload.count == 8 {
                    events.append(.probeAnswered(payload.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }))
                }
            case .closeReceived, .failed:
                events.append(.inputEnded)
            }
        }
    }

    package var isReading: Bool { session.isReading }
    package mutating func takeOutput() -> [UInt8] { session.takeOutput() }
    package mutating func reclaimOutputBuffer(_ buffer: inout [UInt8]) { session.reclaimOutput(&buffer) }
    package var needsFinishClosing: Bool { session.needsFinishClosing }
    package mutating func finishClosing() { session.finishClosing() }
    package var isClosed: Bool { session.closure != nil }
    package var closesTransportFirst: Bool { session.role == .server }

    package mutating func transportClosed() -> any Sendable {
        session.transportClosed()
        guard let closure = session.closure else {
            preconditionFailure("Internal inconsistency: no closure after the transport closed")
        }
        return closure
    }

    package mutating func sendProbe(id: UInt64) -> Bool {
        (try? session.sendPing(withUnsafeBytes(of: id.bigEndian) { Array($0) })) != nil
    }
}
