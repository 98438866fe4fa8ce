/// What one side of a connection wants from permessage-deflate (RFC 7692): how it compresses
/// and what it asks of the peer. Used for the offer (client) and the answer (server).
package struct PerMessageDeflateConfiguration: Sendable, Hashable {
    /// The largest LZ77 window this side compresses with, 9 to 15 (zlib's raw deflate has no
    /// 8; a peer limiting us to 8 is served with 9, whose matches never reach back more than
    /// 250 bytes). A smaller window needs less memory per connection. Default 15.
    package var windowBits: Int
    /// zlib's memory level for this side's compressor, 1 to 9 (default 8). The compressor
    /// takes about 2^(windowBits + 2) + 2^(memoryLevel + 9) bytes, allocated when the first
    /// message is compressed.
    package var memoryLevel: Int
    /// Reset this side's compressor after every message: no memory of earlier messages,
    /// worse ratio on streams of similar messages. Default false.
    package var noContextTakeover: Bool
    /// Ask the peer to reset its compressor after every message. Default false.
    package var peerNoContextTakeover: Bool
    /// Ask the peer to compress with at most this window (8 to 15), so that this side's
    /// decompressor needs less memory. nil: no limit.
    package var peerMaxWindowBits: Int?
    /// Messages shorter than this are sent uncompressed (RSV1 clear), which RFC 7692 allows
    /// for any message. Default 0: every message is compressed.
    package var minimumSize: Int
    /// zlib's compression level, 1 (fastest) to 9 (smallest). Default 6, zlib's own default.
    /// On the hub's reading stream level 1 is about 15 % faster and sends about 40 % more
    /// bytes (README, TLS and compression).
    package var level: Int

    package init(windowBits: Int = 15, memoryLevel: Int = 8, noContextTakeover: Bool = false,
                 peerNoContextTakeover: Bool = false, peerMaxWindowBits: Int? = nil, minimumSize: Int = 0, level: Int = 6) {
        self.level = min(max(level, 1), 9)
        self.windowBits = min(max(windowBits, 9), 15)
        self.memoryLevel = min(max(memoryLevel, 1), 9)
        self.noContextTakeover = noContextTakeover
        self.peerNoContextTakeover = peerNoContextTakeover
        self.peerMaxWindowBits = peerMaxWindowBits.map { min(max($0, 8), 15) }
        self.minimumSize = max(0, minimumSize)
    }
}

/// The permessage-deflate parameters both sides agreed on (RFC 7692 section 7.1), by the
/// names the RFC gives them.
package struct PerMessageDeflateParameters: Sendable, Hashable {
    package var serverNoContextTakeover = false
    package var clientNoContextTakeover = false
    package var serverMaxWindowBits = 15
    package var clientMaxWindowBits = 15

    package init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                 serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The extension name in `Sec-WebSocket-Extensions`.
    package static let extensionName = "permessage-deflate"

    /// The four parameter names RFC 7692 defines.
    private enum Name: String {
        case serverNoContextTakeover = "server_no_context_takeover"
        case clientNoContextTakeover = "client_no_context_takeover"
        case serverMaxWindowBits = "server_max_window_bits"
        case clientMaxWindowBits = "client_max_window_bits"
    }

    /// One offer or response element's parameters, checked: known names, none twice, window
    /// bits 8 to 15 in decimal without leading zeros, values only where allowed.
    private struct Parsed {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        /// Present without a value: `.some(nil)` (allowed in an offer only).
        var clientMaxWindowBits: Int??

        init?(_ element: WebSocketExtension) {
            var seen: Set<String> = []
            for (name, value) in element.parameters {
                guard let known = Name(rawValue: name), seen.insert(name).inserted else { return nil }
                switch known {
                case .serverNoContextTakeover:
                    guard value == nil else { return nil }
                    serverNoContextTakeover = true
                case .clientNoContextTakeover:
                    guard value == nil else { return nil }
                    clientNoContextTakeover = true
                case .serverMaxWindowBits:
                    guard let bits = value.flatMap(Self.windowBits) else { return nil }
                    serverMaxWindowBits = bits
                case .clientMaxWindowBits:
                    if let value {
                        guard let bits = Self.windowBits(value) else { return nil }
                        clientMaxWindowBits = .some(bits)
                    } else {
                        clientMaxWindowBits = .some(nil)
                    }
                }
            }
        }

        static func windowBits(_ text: String) -> Int? {
            guard text.utf8.count <= 2, text.first != "0", let bits = Int(text), (8...15).contains(bits) else { return nil }
            return bits
        }
    }

    // MARK: Client

    /// The offer a client sends for `configuration`: it always says it accepts a
    /// `client_max_window_bits` limit, and asks for what the configuration asks of the server.
    package static func offer(_ configuration: PerMessageDeflateConfiguration) -> WebSocketExtension {
        var element = WebSocketExtension(name: extensionName)
        if configuration.peerNoContextTakeover { element.parameters.append((Name.serverNoContextTakeover.rawValue, nil)) }
        if configuration.noContextTakeover { element.parameters.append((Name.clientNoContextTakeover.rawValue, nil)) }
        if let bits = configuration.peerMaxWindowBits { element.parameters.append((Name.serverMaxWindowBits.rawValue, String(bits))) }
        let ownBits = configuration.windowBits < 15 ? String(configuration.windowBits) : nil
        element.parameters.append((Name.clientMaxWindowBits.rawValue, ownBits))
        return element
    }

    /// Checks the server's `Sec-WebSocket-Extensions` response against the offer made for
    /// `configuration`; returns the agreed parameters, or nil when the server declined.
    /// - Throws: ``HandshakeError/unrequestedNegotiation(_:)`` for anything the client did not
    ///   offer or cannot accept (an unknown extension, a second element, a bad parameter, a
    ///   limit looser than offered, a requested reset left out).
    package static func acceptResponse(_ extensions: [WebSocketExtension],
                                       offered configuration: PerMessageDeflateConfiguration?) throws(HandshakeError) -> Self? {
        guard let first = extensions.first else { return nil }
        let text = extensions.map(\.headerText).joined(separator: ", ")
        guard let configuration, extensions.count == 1, first.name == extensionName, let parsed = Parsed(first) else {
            throw .unrequestedNegotiation("extension \(text)")
        }
        var agreed = Self()
        agreed.serverNoContextTakeover = parsed.serverNoContextTakeover
        agreed.clientNoContextTakeover = parsed.clientNoContextTakeover || configuration.noContextTakeover
        if configuration.peerNoContextTakeover && !parsed.serverNoContextTakeover {
            throw .unrequestedNegotiation("extension \(text) without the server_no_context_takeover asked for")
        }
        if let bits = parsed.serverMaxWindowBits {
            if let asked = configuration.peerMaxWindowBits, bits > asked {
                throw .unrequestedNegotiation("extension \(text): server window over the \(asked) bits asked for")
            }
            agreed.serverMaxWindowBits = bits
        } else if let asked = configuration.peerMaxWindowBits {
            throw .unrequestedNegotiation("extension \(text) without the server_max_window_bits=\(asked) asked for")
        }
        switch parsed.clientMaxWindowBits {
        case .none:
            agreed.clientMaxWindowBits = configuration.windowBits
        case .some(.none):
            throw .unrequestedNegotiation("extension \(text): client_max_window_bits without a value")
        case .some(.some(let bits)):
            agreed.clientMaxWindowBits = min(bits, configuration.windowBits)
        }
        return agreed
    }

    // MARK: Server

    /// Picks the first acceptable permessage-deflate offer from a client's extension list,
    /// returning the agreed parameters and the response element; nil when none is
    /// acceptable (the connection then goes on without compression).
    package static func negotiate(offers: [WebSocketExtension],
                                  configuration: PerMessageDeflateConfiguration) -> (parameters: Self, response: WebSocketExtension)? {
        for offer in offers where offer.name == extensionName {
            guard let parsed = Parsed(offer) else { continue }
            var agreed = Self()
            var response = WebSocketExtension(name: extensionName)
            if parsed.serverNoContextTakeover || configuration.noContextTakeover {
                agreed.serverNoContextTakeover = true
                response.parameters.append((Name.serverNoContextTakeover.rawValue, nil))
            }
            if parsed.clientNoContextTakeover || configuration.peerNoContextTakeover {
                agreed.clientNoContextTakeover = true
                response.parameters.append((Name.clientNoContextTakeover.rawValue, nil))
            }
            // A window under the one asked for is this side's own business; one asked for is
            // answered. 8 is honoured with zlib's 9, which never reaches back past 250 bytes.
            agreed.serverMaxWindowBits = min(parsed.serverMaxWindowBits ?? 15, configuration.windowBits)
            if parsed.serverMaxWindowBits != nil {
                response.parameters.append((Name.serverMaxWindowBits.rawValue, String(agreed.serverMaxWindowBits)))
            }
            switch parsed.clientMaxWindowBits {
            case .none:
                agreed.clientMaxWindowBits = 15
            case .some(let offered):
                let limit = min(offered ?? 15, configuration.peerMaxWindowBits ?? 15)
                agreed.clientMaxWindowBits = limit
                if limit < 15 || offered != nil {
                    response.parameters.append((Name.clientMaxWindowBits.rawValue, String(limit)))
                }
            }
            return (agreed, response)
        }
        return nil
    }
}

/// How one side of a connection runs permessage-deflate once negotiated: its own compressor
/// and the decompressor for the peer's messages.
package struct PerMessageDeflate: Sendable, Hashable {
    /// The window this side compresses with (9 to 15).
    package var compressWindowBits: Int
    /// Reset the compressor after each message.
    package var compressResets: Bool
    /// The window the peer's messages are decompressed with (9 to 15: a peer held to 8 may
    /// still reach back 256 bytes, which a 9-bit window covers).
    package var decompressWindowBits: Int
    /// Reset the decompressor after each message.
    package var decompressResets: Bool
    /// zlib's memory level for the compressor.
    package var memoryLevel: Int
    /// Messages shorter than this go out uncompressed.
    package var minimumSize: Int
    /// zlib's compression level for the compressor.
    package var level: Int

    /// The settings for `role` given the agreed parameters and this side's configuration.
    package init(parameters: PerMessageDeflateParameters, isServer: Bool, configuration: PerMessageDeflateConfiguration) {
        let ownBits = isServer ? parameters.serverMaxWindowBits : parameters.clientMaxWindowBits
        let peerBits = isServer ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits
        compressWindowBits = max(9, min(ownBits, configuration.windowBits))
        compressResets = (isServer ? parameters.serverNoContextTakeover : parameters.clientNoContextTakeover)
            || configuration.noContextTakeover
        decompressWindowBits = max(9, peerBits)
        decompressResets = isServer ? parameters.clientNoContextTakeover : parameters.serverNoContextTakeover
        memoryLevel = configuration.memoryLevel
        minimumSize = configuration.minimumSize
        level = configuration.level
    }
}
