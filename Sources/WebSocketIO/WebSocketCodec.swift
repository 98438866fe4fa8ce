import ConnectionCore
import WebSocketCore

/// RFC 6455 after the opening handshake, as a ``StreamCodec``: ``WebSocketSession`` (frames,
/// UTF-8, fragments, pings, the close handshake) plus what the handshake learned.
package struct WebSocketCodec: StreamCodec {
    package typealias Message = WebSocketMessage
    package typealias Closure = WebSocketSession.Closure

    /// The frame-level state.
    package var session: WebSocketSession
    /// The request target: the client's path, or the path the server was asked for.
    package var path: String
    /// The opening-handshake request head (server side) or response head (client side).
    package var handshakeHead = HTTPHead(startLine: "", fields: [])

    /// A codec for `role` with these limits.
    package init(role: WebSocketSession.Role, limits: WebSocketSession.Configuration, path: String = "/",
                 maskingKeys: any MaskingKeySource = SecureRandomMaskingKeys()) {
        session = WebSocketSession(role: role, configuration: limits, maskingKeys: maskingKeys)
        self.path = path
    }

    package mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent<WebSocketMessage>]) {
        session.receive(input) { event in
            switch event {
            case .text(let payload): events.append(.message(.text(payload.string), byteCount: payload.count))
            case .binary(let payload): events.append(.message(.binary(payload.array), byteCount: payload.count))
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
    package var needsFinishClosing: Bool { session.needsFinishClosing }
    package mutating func finishClosing() { session.finishClosing() }
    package var closure: WebSocketSession.Closure? { session.closure }
    package var closesTransportFirst: Bool { session.role == .server }

    package mutating func transportClosed() -> WebSocketSession.Closure {
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
