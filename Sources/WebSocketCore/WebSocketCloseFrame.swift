import UTF8Validation

/// The payload of a close frame (RFC 6455 section 5.5.1): an optional status code and an
/// optional UTF-8 reason.
package struct WebSocketCloseFrame: Hashable, Sendable, CustomStringConvertible {
    /// The status code; nil for a close frame with an empty payload (read as 1005).
    package var code: WebSocketCloseCode?
    /// The reason, at most 123 bytes of UTF-8 on the wire.
    package var reason: String

    package init(code: WebSocketCloseCode?, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// The largest reason that fits in a control frame next to the 2-byte code.
    package static let maxReasonBytes = 123

    /// Parses and validates a received close payload.
    /// - Throws: ``WebSocketProtocolError/invalidClosePayload`` for a 1-byte payload,
    ///   ``WebSocketProtocolError/invalidCloseCode(_:)`` for a code that may not be sent,
    ///   ``WebSocketProtocolError/invalidUTF8`` for a reason that is not UTF-8.
    package init(parsing payload: UnsafeRawBufferPointer) throws(WebSocketProtocolError) {
        switch payload.count {
        case 0:
            self.init(code: nil)
        case 1:
            throw .invalidClosePayload
        default:
            let code = WebSocketCloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
            guard code.isSendable else { throw .invalidCloseCode(code.rawValue) }
            let reasonBytes = UnsafeRawBufferPointer(rebasing: payload[2...])
            guard UTF8Validator.isValid(reasonBytes) else { throw .invalidUTF8 }
            self.init(code: code, reason: String(decoding: reasonBytes, as: UTF8.self))
        }
    }

    /// Parses and validates a received close payload, lent or owned.
    package init(parsing payload: AssembledPayload) throws(WebSocketProtocolError) {
        switch payload {
        case .borrowed(let bytes):
            try self.init(parsing: bytes)
        case .owned(let array):
            var result: Result<WebSocketCloseFrame, WebSocketProtocolError> = .success(.init(code: nil))
            array.withUnsafeBytes { bytes in
                result = Result { () throws(WebSocketProtocolError) in try WebSocketCloseFrame(parsing: bytes) }
            }
            self = try result.get()
        }
    }

    /// The payload to send: the code in network order, then the reason cut to 123 bytes at a
    /// character boundary. A frame without a code has an empty payload (and no reason).
    package var payload: [UInt8] {
        guard let code else { return [] }
        var bytes: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        var used = 0
        for character in reason {
            let utf8 = Array(character.utf8)
            if used + utf8.count > Self.maxReasonBytes { break }
            bytes.append(contentsOf: utf8)
            used += utf8.count
        }
        return bytes
    }

    package var description: String {
        guard let code else { return "close (no status)" }
        return reason.isEmpty ? "close \(code)" : "close \(code) \"\(reason)\""
    }
}
