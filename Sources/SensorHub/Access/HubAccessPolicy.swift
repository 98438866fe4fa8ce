import WebSocketCore

/// Who may open a WebSocket to the hub, and as what, decided on the upgrade request alone
/// (sans-I/O): the hub's tokens and the origins browsers may connect from.
///
/// - A token travels in the upgrade request: `Authorization: Bearer TOKEN`, or (browsers,
///   which cannot set headers on a WebSocket) the query parameter `token` of the request
///   target (`ws://hub:5192/?token=TOKEN`). A presented token that is neither the agent token
///   nor an app token is refused with 401; with app tokens configured, so is a request
///   without one. Tokens are compared in constant time (``SecretComparison``).
/// - A request carrying `Origin` (every browser sends it) is refused with 403 unless the
///   origin is in ``allowedOrigins`` or is the hub's own: the scheme and `Host` of the
///   request, when that host is a loopback name, the address the hub is bound to, or any host
///   once app tokens are required (a token then protects the hub; without one, a page on
///   another name resolving to this machine must not pass as the hub's own). Requests
///   without `Origin` (our libraries and CLIs) are not affected.
package struct HubAccessPolicy: Sendable {
    /// The token agents present; nil: agents need none.
    package var agentToken: String?
    /// App tokens and what each allows; empty: apps need none and may do everything.
    package var appTokens: [String: AppRight]
    /// Origins (`scheme://host[:port]`, compared case-insensitively) browsers may connect
    /// from besides the hub's own.
    package var allowedOrigins: Set<String>
    /// Whether the legacy agent protocol (`agent_connect`, `sensor_added`, `sensor_data`) is
    /// accepted.
    package var legacyAgents: Bool

    /// A policy; the defaults are today's open loopback hub.
    /// - Precondition: no token is empty (an empty token would match an absent one).
    package init(agentToken: String? = nil, appTokens: [String: AppRight] = [:], allowedOrigins: Set<String> = [],
                 legacyAgents: Bool = true) {
        precondition(agentToken?.isEmpty != true && !appTokens.keys.contains(""), "an empty token protects nothing")
        self.agentToken = agentToken
        self.appTokens = appTokens
        self.allowedOrigins = Set(allowedOrigins.compactMap(Self.normalizedOrigin))
        self.legacyAgents = legacyAgents
    }

    /// Whether apps must present a token.
    package var appTokenRequired: Bool { !appTokens.isEmpty }

    /// The right of app token `presented` (nil: not an app token), compared in constant time
    /// against every app token.
    package func appRight(of presented: String) -> AppRight? {
        var right: AppRight?
        for (token, tokenRight) in appTokens where SecretComparison.matches(presented, token) && right == nil { right = tokenRight }
        return right
    }

    /// What the upgrade request proved.
    package enum Credential: Sendable, Hashable {
        /// No token (a hub that requires none from apps): an app with every right, or an agent
        /// that authenticates in its first message, if the hub asks it to.
        case none
        /// An app token with this right.
        case app(AppRight)
        /// The agent token.
        case agent
    }

    /// The decision on an upgrade request.
    package enum Admission: Sendable, Hashable {
        case admitted(Credential)
        /// Answered with this status (401, 403) and reason; no upgrade.
        case refused(status: Int, reason: String)
    }

    /// Decides on an upgrade request.
    /// - Parameters:
    ///   - head: The request head.
    ///   - target: The request target (path and query).
    ///   - secure: Whether the hub serves TLS (the scheme of its own origin).
    ///   - boundHost: The address the hub listens on.
    package func admit(_ head: HTTPHead, target: String, secure: Bool, boundHost: String) -> Admission {
        if let origin = head["Origin"], !isAllowed(origin: origin, host: head["Host"], secure: secure, boundHost: boundHost) {
            return .refused(status: 403, reason: "origin not allowed")
        }
        guard let presented = Self.bearerToken(head["Authorization"]) ?? Self.queryToken(target) else {
            return appTokenRequired ? .refused(status: 401, reason: "token required") : .admitted(.none)
        }
        // Every configured token is compared, whichever matches: the time taken does not say.
        var credential: Credential?
        if let agentToken, SecretComparison.matches(presented, agentToken) { credential = .agent }
        for (token, right) in appTokens where SecretComparison.matches(presented, token) {
            if credential == nil { credential = .app(right) }
        }
        guard let credential else { return .refused(status: 401, reason: "invalid token") }
        return .admitted(credential)
    }

    private func isAllowed(origin: String, host: String?, secure: Bool, boundHost: String) -> Bool {
        guard let origin = Self.normalizedOrigin(origin) else { return false }
        if allowedOrigins.contains(origin) { return true }
        guard let host = host?.lowercased(), let own = Self.normalizedOrigin((secure ? "https://" : "http://") + host), origin == own else { return false }
        if appTokenRequired { return true }
        let name = Self.hostName(host)
        return ["localhost", "127.0.0.1", "::1"].contains(name) || name == boundHost.lowercased()
    }

    /// An origin as browsers send it, compared case-insensitively, without a default port
    /// (`:80` for http, `:443` for https) or a trailing slash: `https://Console.Example:443/`
    /// and `https://console.example` are one origin. Nil for anything that is not
    /// `scheme://host[:port]` (a path, a query, `null`).
    package static func normalizedOrigin(_ text: String) -> String? {
        var origin = text.lowercased()
        if origin.hasSuffix("/") { origin.removeLast() }
        let scheme: String
        if origin.hasPrefix("http://") { scheme = "http://" } else if origin.hasPrefix("https://") { scheme = "https://" } else { return nil }
        let authority = origin.dropFirst(scheme.count)
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        let defaultPort = scheme == "http://" ? ":80" : ":443"
        if authority.hasSuffix(defaultPort) { return scheme + authority.dropLast(defaultPort.count) }
        return scheme + authority
    }

    /// `host`, `host:port`, `[v6]:port` -> the name or address alone.
    static func hostName(_ host: String) -> String {
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") { return String(host[host.index(after: host.startIndex)..<end]) }
        return String(host.prefix { $0 != ":" })
    }

    /// The token of `Authorization: Bearer TOKEN` (scheme case-insensitive).
    static func bearerToken(_ field: String?) -> String? {
        guard let field else { return nil }
        let parts = field.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: " \t")
        return token.isEmpty ? nil : token
    }

    /// The query parameter `token` of a request target, percent-decoded.
    static func queryToken(_ target: String) -> String? {
        guard let query = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "token", let token = percentDecoded(parts[1]), !token.isEmpty else { continue }
            return token
        }
        return nil
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
