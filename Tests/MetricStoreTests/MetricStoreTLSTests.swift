import MetricStore
import Testing
import TestSupport

#if TLS
@Suite("MetricStore over TLS (trait TLS)", .timeLimit(.minutes(1)))
struct MetricStoreTLSTests {
    @Test("one configuration value on each side: puts and gets over TLS; a client that does not trust the CA gets an error")
    func putAndGet() async throws {
        let certificates = try TestCertificates.shared()
        let server = try MetricStoreServer(port: 0, configuration: .init(tls: TLSServerConfiguration(
            certificateChainFile: certificates.serverCertificateFile, privateKeyFile: certificates.serverKeyFile)))
        let serving = Task { await server.run() }
        defer { server.stop(); serving.cancel() }
        let client = MetricStoreClient(host: "localhost", port: server.port, timeout: .seconds(10),
                                       tls: TLSConfiguration(trustedCertificatesFile: certificates.caFile))
        try await client.put("palm.cpu", 0.5, timestamp: 1150864247)
        try await client.put("palm.cpu", 1.5, timestamp: 1150864248)
        #expect(try await client.get("*") == ["palm.cpu": [MetricPoint(timestamp: 1150864247, value: 0.5),
                                                          MetricPoint(timestamp: 1150864248, value: 1.5)]])
        client.close()
        // A client that does not trust the server's CA never gets an answer.
        let untrusting = MetricStoreClient(host: "localhost", port: server.port, timeout: .milliseconds(500),
                                           reconnect: .init(initialDelay: .milliseconds(10), maxDelay: .milliseconds(10), multiplier: 1, jitter: 0, maxAttempts: 0),
                                           tls: TLSConfiguration())
        await #expect(throws: MetricStoreClientError.self) { try await untrusting.get("*") }
        untrusting.close()
    }

    @Test("a server whose key does not match its certificate fails when it is made")
    func badIdentity() throws {
        let certificates = try TestCertificates.shared()
        #expect(throws: MetricStoreServerError.self) {
            _ = try MetricStoreServer(port: 0, configuration: .init(tls: TLSServerConfiguration(
                certificateChainFile: certificates.caFile, privateKeyFile: certificates.serverKeyFile)))
        }
    }
}
#endif
