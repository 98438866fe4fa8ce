/// A `ws://` or `wss://` URL taken apart (RFC 6455 section 3), for ``SensorClient/init(url:configuration:clock:)``.
struct WebSocketURL: Hashable, Sendable {
    var secure: Bool
    var host: String
    var port: Int
    /// The request target: the path (at least "/") and the query.
    var path: String

    init(secure: Bool, host: String, port: Int, path: String) {
        self.secure = secure
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses `text`; nil unless it is `ws[s]://host[:port][/path][?query]` with a host,
    /// a port in 1...65535 if one is given, no user info and no fragment.
    init?(_ text: String) {
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("ws://") {
            secure = false
            rest = text.dropFirst(5)
        } else if lowered.hasPrefix("wss://") {
            secure = true
            rest = text.dropFirst(6)
        } else {
            return nil
        }
        guard !text.contains("#") else { return nil }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let target = rest[authorityEnd...]
        path = target.isEmpty ? "/" : (target.first == "?" ? "/" + target : String(target))
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains(where: \.isWhitespace) else { return nil }
        var hostPart: Substring
        var portPart: Substring?
        if authority.first == "[" {
            // An IPv6 literal: [address] or [address]:port.
            guard let close = authority.firstIndex(of: "]") else { return nil }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { return nil }
                portPart = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { return nil }
        host = String(hostPart)
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy(\.isASCII), portPart.allSatisfy(\.isNumber),
                  let number = Int(portPart), (1...65535).contains(number) else { return nil }
            port = number
        } else {
            port = secure ? 443 : 80
        }
    }
}
