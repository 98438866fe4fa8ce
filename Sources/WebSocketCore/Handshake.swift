import Foundation

/// The GUID RFC 6455 section 1.3 appends to the client's key.
private let websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/// Why an opening handshake failed.
package enum HandshakeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The HTTP head was too large or malformed.
    case malformedHead(HTTPHeadError)
    /// The server answered with another status than 101.
    case unexpectedStatus(Int, String)
    /// `Upgrade: websocket` is missing.
    case missingUpgradeHeader
    /// `Connection: Upgrade` is missing.
    case missingConnectionHeader
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    case invalidAccept(String?)
    /// The server chose an extension or subprotocol the client did not offer.
    case unrequestedNegotiation(String)
    /// The peer closed the connection before the handshake finished.
    case connectionClosed

    package var description: String {
        switch self {
        case .malformedHead(let error): error.description
        case .unexpectedStatus(let code, let line): "expected status 101, got \(code) (\(line))"
        case .missingUpgradeHeader: "response lacks Upgrade: websocket"
        case .missingConnectionHeader: "response lacks Connection: Upgrade"
        case .invalidAccept(let value): "invalid Sec-WebSocket-Accept \(value.map { "\"\($0)\"" } ?? "(missing)")"
        case .unrequestedNegotiation(let what): "server negotiated \(what), which was not offered"
        case .connectionClosed: "connection closed during the handshake"
        }
    }
}

/// The client side of the opening handshake (RFC 6455 section 4.1): the request to send and
/// the validation of the server's response.
package struct ClientHandshake: Sendable {
    /// The `Sec-WebSocket-Key`: base64 of 16 random bytes.
    package let key: String
    /// The request bytes to send.
    package let request: [UInt8]
    /// The permessage-deflate offer made, if any.
    package let deflate: PerMessageDeflateConfiguration?

    /// Builds the request.
    /// - Parameters:
    ///   - host: The host as given by the application (an IPv6 literal gets brackets).
    ///   - port: The TCP port; left out of `Host` when it is the scheme's default (80, or 443 with `secure`).
    ///   - path: The request target: starts with "/", may carry a query.
    ///   - extraHeaders: Further header fields (e.g. `Origin`, authorization).
    ///   - nonce: The 16 key bytes; fresh CSPRNG bytes by default (tests pass fixed ones).
    ///   - deflate: Offer permessage-deflate (RFC 7692) with this configuration; nil offers nothing.
    ///   - secure: The connection runs over TLS (`wss://`): port 443 is the one left out of `Host`.
    package init(host: String, port: Int, path: String, extraHeaders: [(String, String)] = [], nonce: [UInt8]? = nil,
                 deflate: PerMessageDeflateConfiguration? = nil, secure: Bool = false) {
        self.deflate = deflate
        var bytes = nonce ?? [UInt8](repeating: 0, count: 16)
        if nonce == nil { bytes.withUnsafeMutableBytes { fillWithSecureRandomBytes($0) } }
        key = Data(bytes).base64EncodedString()
        let hostValue = host.contains(":") ? "[\(host)]" : host
        var fields: [(name: String, value: String)] = [
            ("Host", port == (secure ? 443 : 80) ? hostValue : "\(hostValue):\(port)"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if let deflate {
            fields.append(("Sec-WebSocket-Extensions", PerMessageDeflateParameters.offer(deflate).headerText))
        }
        fields.append(contentsOf: extraHeaders.map { (name: $0.0, value: $0.1) })
        request = HTTPHead(startLine: "GET \(path.isEmpty ? "/" : path) HTTP/1.1", fields: fields).bytes
    }

    /// The `Sec-WebSocket-Accept` value a server must answer `key` with:
    /// base64(SHA-1(key + GUID)).
    package static func acceptValue(forKey key: String) -> String {
        Data(SHA1.hash(Array((key + websocketGUID).utf8))).base64EncodedString()
    }

    /// Checks the server's response head; returns the permessage-deflate parameters the
    /// server accepted, or nil when it accepted none.
    /// - Throws: ``HandshakeError`` naming the first thing wrong.
    @discardableResult
    package func validate(_ response: HTTPHead) throws(HandshakeError) -> PerMessageDeflateParameters? {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4)
        let parts = response.startLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, isHTTPVersion(parts[0]), parts[1].utf8.count == 3,
              parts[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let status = Int(parts[1]) else {
            throw .malformedHead(.malformed("status line"))
        }
        guard status == 101 else { throw .unexpectedStatus(status, response.startLine) }
        guard response.tokens("Upgrade").contains(where: { $0.lowercased() == "websocket" }) else {
            throw .missingUpgradeHeader
        }
        guard response.tokens("Connection").contains(where: { $0.lowercased() == "upgrade" }) else {
            throw .missingConnectionHeader
        }
        let accept = response["Sec-WebSocket-Accept"]
        guard accept == Self.acceptValue(forKey: key) else { throw .invalidAccept(accept) }
        if let subprotocol = response["Sec-WebSocket-Protocol"], !subprotocol.isEmpty {
            throw .unrequestedNegotiation("subprotocol \(subprotocol)")
        }
        guard let header = response.combinedValue("Sec-WebSocket-Extensions") else { return nil }
        guard let extensions = WebSocketExtension.parseList(header) else {
            throw .unrequestedNegotiation("extension \(header)")
        }
        return try PerMessageDeflateParameters.acceptResponse(extensions, offered: deflate)
    }
}

/// The server side of the opening handshake (RFC 6455 section 4.2): validates a request and
/// builds the 101 response, or the error response that refuses it.
package enum ServerHandshake {
    /// A request that may be upgraded.
    package struct Accepted: Sendable, Hashable {
        /// The request target (path and query).
        package var path: String
        /// The whole request head, for the application to inspect (Origin, cookies ...).
        package var request: HTTPHead
        /// The 101 response to send.
        package var response: [UInt8]
        /// The permessage-deflate parameters accepted, if the client offered any acceptable.
        package var deflate: PerMessageDeflateParameters?
    }

    /// A request that must be refused, with the response that says why.
    package struct Rejected: Error, Sendable, Hashable {
        /// 400 (bad request), 405 (not GET) or 426 (unsupported version).
        package var status: Int
        package var reason: String
        package var response: [UInt8]
    }

    /// Validates `request` and returns the response to send.
    /// - Parameter deflate: Accept a permessage-deflate offer (RFC 7692) on these terms; nil
    ///   declines every offer.
    package static func respond(to request: HTTPHead, deflate: PerMessageDeflateConfiguration? = nil) -> Result<Accepted, Rejected> {
        let parts = request.startLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, isHTTPVersion(parts[2]), parts[2] != "HTTP/1.0", parts[1].hasPrefix("/") else {
            return .failure(reject(400, "invalid request line"))
        }
        guard parts[0] == "GET" else { return .failure(reject(405, "method must be GET", extra: [("Allow", "GET")])) }
        guard request["Host"] != nil else { return .failure(reject(400, "missing Host")) }
        guard request.tokens("Upgrade").contains(where: { $0.lowercased() == "websocket" }) else {
            return .failure(reject(400, "missing Upgrade: websocket"))
        }
        guard request.tokens("Connection").contains(where: { $0.lowercased() == "upgrade" }) else {
            return .failure(reject(400, "missing Connection: Upgrade"))
        }
        guard request["Sec-WebSocket-Version"] == "13" else {
            return .failure(reject(426, "unsupported Sec-WebSocket-Version", extra: [("Sec-WebSocket-Version", "13")]))
        }
        guard let key = request["Sec-WebSocket-Key"], let nonce = Data(base64Encoded: key), nonce.count == 16 else {
            return .failure(reject(400, "invalid Sec-WebSocket-Key"))
        }
        var fields: [(name: String, value: String)] = [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", ClientHandshake.acceptValue(forKey: key)),
        ]
        var agreed: PerMessageDeflateParameters?
        // An offer that does not parse or that cannot be accepted is declined, not refused.
        if let deflate, let header = request.combinedValue("Sec-WebSocket-Extensions"),
           let offers = WebSocketExtension.parseList(header),
           let (parameters, element) = PerMessageDeflateParameters.negotiate(offers: offers, configuration: deflate) {
            agreed = parameters
            fields.append(("Sec-WebSocket-Extensions", element.headerText))
        }
        let response = HTTPHead(startLine: "HTTP/1.1 101 Switching Protocols", fields: fields)
        return .success(Accepted(path: String(parts[1]), request: request, response: response.bytes, deflate: agreed))
    }

    /// The response refusing a request that is not even valid HTTP.
    package static func reject(_ status: Int, _ reason: String, extra: [(String, String)] = []) -> Rejected {
        let phrase = switch status {
        case 405: "Method Not Allowed"
        case 426: "Upgrade Required"
        case 431: "Request Header Fields Too Large"
        default: "Bad Request"
        }
        let body = reason + "\n"
        var fields: [(name: String, value: String)] = extra.map { (name: $0.0, value: $0.1) }
        fields += [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", String(body.utf8.count)), ("Connection", "close")]
        var bytes = HTTPHead(startLine: "HTTP/1.1 \(status) \(phrase)", fields: fields).bytes
        bytes.append(contentsOf: body.utf8)
        return Rejected(status: status, reason: reason, response: bytes)
    }
}

/// Whether `token` is an HTTP version of at least 1.0 in the form RFC 9112 allows:
/// `HTTP/` DIGIT `.` DIGIT (a WebSocket handshake then also rules out 1.0).
func isHTTPVersion(_ token: Substring) -> Bool {
    let bytes = Array(token.utf8)
    let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
    guard bytes.count == 8, token.hasPrefix("HTTP/"), digits.contains(bytes[5]), bytes[6] == UInt8(ascii: "."),
          digits.contains(bytes[7]) else { return false }
    return bytes[5] >= UInt8(ascii: "1")
}
