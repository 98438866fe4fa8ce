import SensorHub

/// `sensorctl hub`'s security options, read from the arguments, files and the environment
/// (secrets are best kept out of the process list: files or environment variables).
struct HubSecurityOptions {
    /// What the hub enforces.
    var access = HubAccessPolicy()
    /// What the log should say at start (a token in argv, an open hub).
    var warnings: [String] = []
    /// `--insecure-open`: start on a public address without tokens anyway.
    var insecureOpen = false

    init(_ parsed: Arguments, environment: [String: String]) throws {
        insecureOpen = parsed.flags.contains("--insecure-open")
        if let path = parsed.options["--agent-token-file"] {
            guard parsed.options["--agent-token"] == nil else { throw UsageError(message: "--agent-token and --agent-token-file exclude each other") }
            access.agentToken = try TokenFile.secret(at: path)
        } else if let token = parsed.options["--agent-token"] {
            guard !token.isEmpty else { throw UsageError(message: "--agent-token is empty (an unset variable?)") }
            access.agentToken = token
            warnings.append("--agent-token puts the token in the process list (ps); use --agent-token-file or SENSORSTREAM_AGENT_TOKEN")
        } else if let token = environment["SENSORSTREAM_AGENT_TOKEN"], !token.isEmpty {
            access.agentToken = token
        }
        if let path = parsed.options["--tokens"] {
            access.appTokens = try TokenFile.read(path)
        }
        if let token = parsed.options["--app-token"] {
            guard !token.isEmpty else { throw UsageError(message: "--app-token is empty (an unset variable?)") }
            access.appTokens[token] = .admin
            warnings.append("--app-token puts the token in the process list (ps); use --tokens FILE or SENSORSTREAM_APP_TOKEN")
        } else if parsed.options["--tokens"] == nil, let token = environment["SENSORSTREAM_APP_TOKEN"], !token.isEmpty {
            access.appTokens[token] = .admin
        }
        if let origins = parsed.options["--allowed-origin"] {
            for origin in origins.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !origin.isEmpty {
                guard let normalized = HubAccessPolicy.normalizedOrigin(origin) else {
                    throw UsageError(message: "--allowed-origin takes scheme://host[:port], not \"\(origin)\"")
                }
                access.allowedOrigins.insert(normalized)
            }
        }
        switch parsed.options["--legacy-agents"] {
        case nil, "on": access.legacyAgents = true
        case "off": access.legacyAgents = false
        case let other?: throw UsageError(message: "--legacy-agents is on or off, not \"\(other)\"")
        }
        if access.appTokenRequired && access.agentToken == nil {
            // Every upgrade then needs a token, and agents would have none to give.
            throw UsageError(message: "app tokens need an agent token too (--agent-token-file): without one no agent could connect")
        }
        if !access.appTokenRequired {
            warnings.append("no app token: any program that reaches the port can read every sensor and send commands (see --tokens)")
        }
        let short = access.appTokens.keys.filter { $0.count < 16 }.count + (access.agentToken.map { $0.count < 16 ? 1 : 0 } ?? 0)
        if short > 0 {
            warnings.append("\(short) token\(short == 1 ? " is" : "s are") shorter than 16 characters: easy to guess; use long random ones")
        }
    }

    /// Why the hub must not start on `host` as configured, or nil: off loopback it needs an
    /// agent token and app tokens, unless `--insecure-open`.
    func refusalToStart(host: String) -> String? {
        guard !insecureOpen, !["127.0.0.1", "localhost", "::1"].contains(host.lowercased()) else { return nil }
        var missing: [String] = []
        if access.agentToken == nil { missing.append("an agent token (--agent-token-file)") }
        if !access.appTokenRequired { missing.append("app tokens (--tokens)") }
        guard !missing.isEmpty else { return nil }
        return "refusing to serve \(host) without \(missing.joined(separator: " and ")): anyone reaching it could inject readings and drive devices. Add them, or --insecure-open"
    }
}
