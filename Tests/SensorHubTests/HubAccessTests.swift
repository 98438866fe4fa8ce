import Testing
import WebSocketCore
@testable import SensorHub

/// An upgrade request head with these fields.
func upgradeHead(_ fields: [(String, String)], target: String = "/") -> HTTPHead {
    HTTPHead(startLine: "GET \(target) HTTP/1.1", fields: [("Host", "127.0.0.1:5192"), ("Upgrade", "websocket")] + fields.map { (name: $0.0, value: $0.1) })
}

@Suite("Access rules, sans-I/O: tokens, origins, roles, rights")
struct HubAccessTests {
    let policy = HubAccessPolicy(agentToken: "agent-secret", appTokens: ["reader-token": .read, "operator-token": .command])

    func admit(_ fields: [(String, String)], target: String = "/", policy: HubAccessPolicy? = nil, bound: String = "127.0.0.1") -> HubAccessPolicy.Admission {
        (policy ?? self.policy).admit(upgradeHead(fields, target: target), target: target, secure: false, boundHost: bound)
    }

    @Test("tokens in the Authorization header or the query: each credential, 401 for a wrong or a missing one")
    func tokens() {
        #expect(admit([("Authorization", "Bearer reader-token")]) == .admitted(.app(.read)))
        #expect(admit([("Authorization", "bearer   operator-token")]) == .admitted(.app(.command)))
        #expect(admit([("Authorization", "Bearer agent-secret")]) == .admitted(.agent))
        #expect(admit([], target: "/?token=reader-token") == .admitted(.app(.read)))
        #expect(admit([], target: "/?x=1&token=operator%2Dtoken") == .admitted(.app(.command)), "percent-decoded")
        #expect(admit([("Authorization", "Bearer reader-tokeN")]) == .refused(status: 401, reason: "invalid token"))
        #expect(admit([("Authorization", "Basic cmVhZGVyLXRva2Vu")]) == .refused(status: 401, reason: "token required"))
        #expect(admit([]) == .refused(status: 401, reason: "token required"))
        #expect(admit([], target: "/?token=") == .refused(status: 401, reason: "token required"))
        // Without app tokens an upgrade needs none (today's open hub); a wrong one is still refused.
        let open = HubAccessPolicy(agentToken: "agent-secret")
        #expect(admit([], policy: open) == .admitted(.none))
        #expect(admit([("Authorization", "Bearer guess")], policy: open) == .refused(status: 401, reason: "invalid token"))
    }

    @Test("Origin: foreign pages 403; the hub's own page on a loopback name, the bound address or a listed origin pass; no Origin passes")
    func origins() {
        let open = HubAccessPolicy()
        #expect(admit([("Origin", "http://evil.example")], policy: open) == .refused(status: 403, reason: "origin not allowed"))
        #expect(admit([("Origin", "http://127.0.0.1:5192")], policy: open) == .admitted(.none), "positive control: the hub's own page")
        #expect(admit([], policy: open) == .admitted(.none), "libraries and CLIs send no Origin")
        // DNS rebinding: a foreign name that resolves here, Host and Origin agreeing.
        let rebound = HubAccessPolicy().admit(HTTPHead(startLine: "GET / HTTP/1.1", fields: [("Host", "evil.example:5192"), ("Origin", "http://evil.example:5192")]),
                                              target: "/", secure: false, boundHost: "127.0.0.1")
        #expect(rebound == .refused(status: 403, reason: "origin not allowed"))
        let listed = HubAccessPolicy(allowedOrigins: ["https://Console.Example"])
        #expect(admit([("Origin", "https://console.example")], policy: listed) == .admitted(.none))
        // With app tokens the hub's own origin is whatever name it was reached by (the token protects it).
        let rebindingWithToken = policy.admit(HTTPHead(startLine: "GET / HTTP/1.1", fields: [("Host", "hub.example:5192"), ("Origin", "http://hub.example:5192")]),
                                              target: "/?token=reader-token", secure: false, boundHost: "0.0.0.0")
        #expect(rebindingWithToken == .admitted(.app(.read)))
        #expect(admit([("Origin", "https://127.0.0.1:5192"), ("Authorization", "Bearer reader-token")]) == .refused(status: 403, reason: "origin not allowed"),
                "the scheme is part of the origin")
    }

    @Test("the comparison of secrets: equal, unequal, different lengths")
    func secretComparison() {
        #expect(SecretComparison.matches("abc", "abc"))
        #expect(!SecretComparison.matches("abc", "abd"))
        #expect(!SecretComparison.matches("abc", "abcd"))
        #expect(!SecretComparison.matches("", "abc"))
    }

    @Test("roles: the first message decides; the other role's messages are violations")
    func roles() {
        var app = PeerAccess(credential: .none)
        #expect(app.check(.app(isCommand: false), policy: HubAccessPolicy()) == .allow)
        #expect(app.role == .app)
        #expect(app.check(.legacyAgent, policy: HubAccessPolicy()) == .violation("an app sent an agent message"))
        #expect(app.check(.deviceAgent, policy: HubAccessPolicy()) == .violation("an app sent an agent message"))
        var agent = PeerAccess(credential: .none)
        #expect(agent.check(.deviceAgent, policy: HubAccessPolicy()) == .allow)
        #expect(agent.check(.app(isCommand: false), policy: HubAccessPolicy()) == .violation("an agent sent an app message"))
        // A credential decides the role before any message.
        var tokenAgent = PeerAccess(credential: .agent)
        #expect(tokenAgent.check(.app(isCommand: false), policy: policy) == .violation("an agent sent an app message"))
        var tokenApp = PeerAccess(credential: .app(.command))
        #expect(tokenApp.check(.legacyAgent, policy: policy) == .violation("an app sent an agent message"))
    }

    @Test("legacy agents: need the agent token in the upgrade when the hub has one; can be turned off")
    func legacy() {
        var anonymous = PeerAccess(credential: .none)
        #expect(anonymous.check(.legacyAgent, policy: HubAccessPolicy(agentToken: "t")) == .violation("legacy agent messages need the agent token in the upgrade request"))
        var withToken = PeerAccess(credential: .agent)
        #expect(withToken.check(.legacyAgent, policy: HubAccessPolicy(agentToken: "t")) == .allow)
        var open = PeerAccess(credential: .none)
        #expect(open.check(.legacyAgent, policy: HubAccessPolicy()) == .allow, "positive control: an open hub takes them")
        var off = PeerAccess(credential: .agent)
        #expect(off.check(.legacyAgent, policy: HubAccessPolicy(agentToken: "t", legacyAgents: false)) == .violation("the legacy agent protocol is turned off"))
        #expect(off.check(.deviceAgent, policy: HubAccessPolicy(agentToken: "t", legacyAgents: false)) == .allow)
    }

    @Test("rights: read may not command (403, the connection stays); command and admin may")
    func rights() {
        var reader = PeerAccess(credential: .app(.read))
        #expect(reader.check(.app(isCommand: false), policy: policy) == .allow)
        #expect(reader.check(.app(isCommand: true), policy: policy) == .forbidden("this token may not send commands"))
        #expect(reader.check(.app(isCommand: false), policy: policy) == .allow, "still an app after a 403")
        var operatorAccess = PeerAccess(credential: .app(.command))
        #expect(operatorAccess.check(.app(isCommand: true), policy: policy) == .allow)
        var admin = PeerAccess(credential: .app(.admin))
        #expect(admin.check(.app(isCommand: true), policy: policy) == .allow)
        var open = PeerAccess(credential: .none)
        #expect(open.check(.app(isCommand: true), policy: HubAccessPolicy()) == .allow, "an open hub: every right")
    }

    @Test("tokens file: rights per line, comments; errors name the line, never the token")
    func tokenFile() throws {
        let tokens = try TokenFile.parse("# apps\nreader-1 read\n\n  ops-7\tcommand \r\nroot-9 admin\n")
        #expect(tokens == ["reader-1": .read, "ops-7": .command, "root-9": .admin])
        for (text, line) in [("good-1 read\nsecret-xyz writer\n", 2), ("secret-xyz\n", 1), ("a read\nsecret-xyz read extra\n", 2), ("secret-xyz read\nsecret-xyz admin\n", 2)] {
            do {
                _ = try TokenFile.parse(text)
                Issue.record("accepted \(text.count) bytes of bad tokens file")
            } catch {
                #expect(error.reason.contains("line \(line)"), "\(error.reason)")
                #expect(!error.reason.contains("secret-xyz"), "the token stays out of the message")
            }
        }
        #expect(throws: TokenFile.Failure.self) { try TokenFile.parse("# nothing\n") }
    }
}

@Suite("Token bucket, sans-I/O")
struct TokenBucketTests {
    @Test("a burst, then the rate; time going backwards adds nothing")
    func bucket() {
        var bucket = TokenBucket(rate: 10, burst: 3)
        let start = Duration.seconds(100)
        var taken: [Bool] = []
        for _ in 0..<4 { taken.append(bucket.take(at: start)) }
        #expect(taken == [true, true, true, false], "the burst, then empty")
        let afterHalf = bucket.take(at: start + .milliseconds(50))
        let afterOne = bucket.take(at: start + .milliseconds(100))
        let again = bucket.take(at: start + .milliseconds(100))
        let earlier = bucket.take(at: start)
        #expect(!afterHalf, "half a token after 50 ms at 10/s")
        #expect(afterOne, "one token after 100 ms")
        #expect(!again && !earlier, "then empty; an earlier time adds nothing")
        var rested = bucket
        var refilled: [Bool] = []
        for _ in 0..<3 { refilled.append(rested.take(at: start + .seconds(60))) }
        #expect(refilled == [true, true, true], "a long rest refills the burst only")
        let fourth = rested.take(at: start + .seconds(60))
        #expect(!fourth)
    }
}
