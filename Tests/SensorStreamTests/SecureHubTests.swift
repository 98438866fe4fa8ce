import ConnectionCore
import Locking
@testable import SensorHub
@testable import SensorStream
import SensorWire
import Testing
import TestSupport
import WebSocketCore

@Suite("ws:// and wss:// URLs")
struct WebSocketURLTests {
    @Test("URLs parse into host, port and path; anything else is invalidURL")
    func parsing() throws {
        #expect(WebSocketURL("ws://hub.local:5192/live?x=1") == WebSocketURL(secure: false, host: "hub.local", port: 5192, path: "/live?x=1"))
        #expect(WebSocketURL("wss://hub.local") == WebSocketURL(secure: true, host: "hub.local", port: 443, path: "/"))
        #expect(WebSocketURL("WS://[::1]:80") == WebSocketURL(secure: false, host: "::1", port: 80, path: "/"))
        #expect(WebSocketURL("ws://h?q") == WebSocketURL(secure: false, host: "h", port: 80, path: "/?q"))
        for bad in ["http://h", "ws://", "ws://:80", "ws://h:0", "ws://h:65536", "ws://h:x", "ws://u@h", "ws://h/#f", "ws://[::1", "ws://h :1", "wss://h:"] {
            #expect(WebSocketURL(bad) == nil, "\(bad)")
            #expect(throws: SensorClientError.invalidURL(bad)) { _ = try SensorClient(url: bad) }
        }
        let client = try SensorClient(url: "ws://127.0.0.1:5192/feed", configuration: .init(tls: TLSConfiguration()))
        #expect(client.host == "127.0.0.1" && client.port == 5192 && client.configuration.path == "/feed")
        #expect(client.configuration.tls == nil, "ws:// is plaintext whatever the configuration says")
    }
}

#if TLS
@Suite("SensorClient over wss:// to a TLS hub (trait TLS)", .timeLimit(.minutes(1)))
struct SecureHubTests {
    func secureHub() throws -> (Hub, LocalAgent, TestCertificates) {
        let certificates = try TestCertificates.shared()
        let context = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificates.serverCertificateFile,
                                                                   privateKeyFile: certificates.serverKeyFile))
        let hub = try Hub(deflate: .init(), tls: context)
        return (hub, hub.attachAgent(name: "agent-1", sensors: ["CE7238J"]), certificates)
    }

    @Test("readings arrive over wss://, compressed, and the client reconnects over TLS after every drop")
    func readingsAndReconnects() async throws {
        let (hub, agent, certificates) = try secureHub()
        defer { Task { await hub.stop() } }
        let proxy = try FaultProxy(upstreamPort: hub.port)
        defer { proxy.stop() }
        var configuration = testConfiguration()
        configuration.tls = TLSConfiguration(trustedCertificatesFile: certificates.caFile)
        let client = try SensorClient(url: "wss://localhost:\(proxy.port)/", configuration: configuration)
        try await client.connect()
        let received = LockedValue<[Int]>([])
        let loop = Task { for await reading in client.readings("CE7238J") { received.withLock { $0.append(reading.readings.intValue ?? -1) } } }
        for round in 1...3 {
            #expect(await eventually { hub.subscriberCount("CE7238J") == 1 }, "round \(round)")
            agent.publish("CE7238J", .number(Double(round)))
            #expect(await eventually { received.withLock { $0.last } == round }, "round \(round)")
            guard round < 3 else { break }
            await proxy.dropAll()
            #expect(await eventually { proxy.acceptedCount == round + 1 }, "reconnected through the proxy, round \(round)")
        }
        #expect(received.withLock { $0 } == [1, 2, 3])
        #expect(client.currentState == .connected)
        loop.cancel()
        await client.disconnect()
    }

    @Test("connect() throws the typed TLS error: wrong name, unknown CA, plaintext hub")
    func typedErrors() async throws {
        let (hub, _, certificates) = try secureHub()
        defer { Task { await hub.stop() } }
        var configuration = testConfiguration()
        configuration.reconnect.maxAttempts = 0
        configuration.tls = TLSConfiguration(trustedCertificatesFile: certificates.caFile, serverName: "wrong.example")
        let wrongName = try SensorClient(url: "wss://127.0.0.1:\(hub.port)/", configuration: configuration)
        await #expect(throws: SensorClientError.tls(.hostnameMismatch("wrong.example"))) { try await wrongName.connect() }
        configuration.tls = TLSConfiguration()
        let systemStore = try SensorClient(url: "wss://localhost:\(hub.port)/", configuration: configuration)
        do {
            try await systemStore.connect()
            Issue.record("a test CA certificate was trusted by the system store")
        } catch {
            guard case .tls(.untrustedCertificate) = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
        let plainHub = try Hub()
        defer { Task { await plainHub.stop() } }
        configuration.tls = TLSConfiguration(trustedCertificatesFile: certificates.caFile)
        let onPlaintext = try SensorClient(url: "wss://localhost:\(plainHub.port)/", configuration: configuration)
        await #expect(throws: SensorClientError.tls(.notTLS)) { try await onPlaintext.connect() }
        // Positive control: the right CA and name connect.
        let good = try SensorClient(url: "wss://localhost:\(hub.port)/", configuration: configuration)
        try await good.connect()
        #expect(good.currentState == .connected)
        await good.disconnect()
    }
}
#else
@Suite("wss:// without the TLS trait")
struct SecureHubUnavailableTests {
    @Test("a wss:// URL throws tls(.unavailable) when the client is made; a TLS configuration fails connect() the same way")
    func unavailable() async throws {
        #expect(throws: SensorClientError.tls(.unavailable)) { _ = try SensorClient(url: "wss://localhost:5192/") }
        let port = try RefusingPort()
        defer { port.release() }
        let client = SensorClient(host: "127.0.0.1", port: port.port, configuration: .init(reconnect: .init(maxAttempts: 0), tls: .init()))
        await #expect(throws: SensorClientError.tls(.unavailable)) { try await client.connect() }
        // Positive control: without TLS the same port is refused as a connection failure.
        let plain = SensorClient(host: "127.0.0.1", port: port.port, configuration: .init(reconnect: .init(maxAttempts: 0)))
        await #expect(throws: SensorClientError.self) { try await plain.connect() }
    }
}
#endif
