@testable import WebSocketCore
import TestSupport

/// Parses "81 05 48 65" style hex into bytes.
func hex(_ text: String) -> [UInt8] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}

/// The RFC 6455 section 5.7 masking key.
let rfcKey = WebSocketMaskingKey(0x37, 0xFA, 0x21, 0x3D)

/// Feeds `chunks` one after another to a fresh collector and returns every frame, or the error.
func decode(_ chunks: [[UInt8]], role: FrameDecoder.Role = .client, maxFrameSize: Int = 1 << 24) -> Result<[WebSocketFrame], WebSocketProtocolError> {
    var collector = FrameCollector(FrameDecoder(role: role, maxFrameSize: maxFrameSize))
    var frames: [WebSocketFrame] = []
    for chunk in chunks {
        do {
            frames += try collector.feed(chunk)
        } catch {
            return .failure(error)
        }
    }
    return .success(frames)
}

/// Splits `bytes` into pieces at the given offsets.
func split(_ bytes: [UInt8], at offsets: [Int]) -> [[UInt8]] {
    var pieces: [[UInt8]] = []
    var start = 0
    for offset in offsets.sorted() where offset > start && offset < bytes.count {
        pieces.append(Array(bytes[start..<offset]))
        start = offset
    }
    pieces.append(Array(bytes[start...]))
    return pieces
}

/// Splits `bytes` into random pieces of 1...maxChunk bytes.
func randomChunks(_ bytes: [UInt8], maxChunk: Int, using generator: inout SeededGenerator) -> [[UInt8]] {
    var pieces: [[UInt8]] = []
    var start = 0
    while start < bytes.count {
        let size = Int.random(in: 1...maxChunk, using: &generator)
        let end = min(bytes.count, start + size)
        pieces.append(Array(bytes[start..<end]))
        start = end
    }
    return pieces
}

/// What a session reported, with payloads copied out (they are lent during the call).
enum RecordedEvent: Equatable {
    case text(String)
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case closeReceived(WebSocketCloseFrame)
    case failed(WebSocketProtocolError)
}

extension WebSocketSession {
    /// Feeds each chunk and records every event.
    mutating func feed(_ chunks: [[UInt8]]) -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        for chunk in chunks {
            var bytes = chunk
            bytes.withUnsafeMutableBytes { buffer in
                receive(buffer) { event in
                    switch event {
                    case .text(let payload): events.append(.text(payload.string))
                    case .binary(let payload): events.append(.binary(payload.array))
                    case .ping(let payload): events.append(.ping(payload.array))
                    case .pong(let payload): events.append(.pong(payload.array))
                    case .closeReceived(let frame): events.append(.closeReceived(frame))
                    case .failed(let error): events.append(.failed(error))
                    }
                }
            }
        }
        return events
    }

    mutating func feed(_ bytes: [UInt8]) -> [RecordedEvent] { feed([bytes]) }
}

/// Encodes a frame as a server sends it (unmasked) or a client (masked with `key`).
func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, key: WebSocketMaskingKey? = nil) -> [UInt8] {
    FrameEncoder.encode(WebSocketFrame(fin: fin, reservedBits: rsv, opcode: opcode, maskingKey: key, payload: payload))
}

func frame(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true, key: WebSocketMaskingKey? = nil) -> [UInt8] {
    frame(opcode, Array(text.utf8), fin: fin, key: key)
}
