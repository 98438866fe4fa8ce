import ConnectionCore
import Testing
import TestSupport
import TCPTransport
@testable import WebSocketCore
@testable import WebSocketIO

#if TLS
@Suite("TLS over loopback (trait TLS)", .timeLimit(.minutes(1)))
struct TLSLoopbackTests {
    func server(certificate: String, configuration: WebSocketConfiguration = .init()) throws -> (WebSocketServer, Task<Void, Never>) {
        let certificates = try TestCertificates.shared()
        let context = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificate,
                                                                   privateKeyFile: certificates.serverKeyFile))
        let server = try WebSocketServer(host: "127.0.0.1", port: 0, configuration: configuration, tls: context)
        let task = Task {
            await withDiscardingTaskGroup { group in
                for await connection in server.connections {
                    group.addTask { for await message in connection.messages { try? await connection.send(message) } }
                }
            }
        }
        return (server, task)
    }

    func connect(_ port: Int, host: String = "localhost", tls: TLSConfiguration) async throws(WebSocketError) -> WebSocketConnection {
        try await WebSocketConnection.connect(host: host, port: port, configuration: WebSocketConfiguration(deflate: .init(), tls: tls))
    }

    func trusting() throws -> TLSConfiguration {
        TLSConfiguration(trustedCertificatesFile: try TestCertificates.shared().caFile)
    }

    @Test("a good chain connects, by name and by address, and messages of every size echo (compressed too)")
    func goodChain() async throws {
        let certificates = try TestCertificates.shared()
        let (server, task) = try server(certificate: certificates.serverCertificateFile,
                                        configuration: WebSocketConfiguration(limits: .init(maxFrameSize: 2 << 20, maxMessageSize: 2 << 20), deflate: .init()))
        defer { server.stop(); task.cancel() }
        for host in ["localhost", "127.0.0.1"] {
            let client = try await WebSocketConnection.connect(
                host: host, port: server.port,
                configuration: WebSocketConfiguration(limits: .init(maxFrameSize: 2 << 20, maxMessageSize: 2 << 20), deflate: .init(), tls: try trusting()))
            #expect(client.handshakeHead["Sec-WebSocket-Extensions"] == "permessage-deflate")
            var generator = SeededGenerator(seed: 1)
            for size in [0, 1, 125, 16_384, 16_385, 70_000, 1 << 20] {
                let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try await client.send(binary: bytes)
                try await client.send(text: "reading \(size)")
                #expect(await client.receive() == .binary(bytes), "\(host) size \(size)")
                #expect(await client.receive() == .text("reading \(size)"))
            }
            #expect(await client.close().isClean)
        }
    }

    @Test("a plaintext client on the TLS port reads a plaintext 400 that says so")
    func plaintextClient() async throws {
        let certificates = try TestCertificates.shared()
        let (server, task) = try server(certificate: certificates.serverCertificateFile)
        defer { server.stop(); task.cancel() }
        let raw = try await onThread {
            let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { peer.close() }
            try peer.write(ClientHandshake(host: "127.0.0.1", port: server.port, path: "/").request)
            return try peer.read(count: 1 << 12)
        }
        #expect(String(decoding: raw, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(String(decoding: raw, as: UTF8.self).contains("speaks TLS"))
        // Our own client gets it as a typed handshake error.
        await #expect(throws: WebSocketError.handshakeFailed(.unexpectedStatus(400, "HTTP/1.1 400 Bad Request"))) {
            _ = try await WebSocketConnection.connect(host: "127.0.0.1", port: server.port)
        }
    }

    @Test("a wrong host name is a typed error; skipping verification connects (positive control)")
    func wrongHostname() async throws {
        let certificates = try TestCertificates.shared()
        let (server, task) = try server(certificate: certificates.serverCertificateFile)
        defer { server.stop(); task.cancel() }
        var wrongName = try trusting()
        wrongName.serverName = "wrong.example"
        await #expect(throws: WebSocketError.tlsFailed(.hostnameMismatch("wrong.example"))) {
            _ = try await connect(server.port, tls: wrongName)
        }
        wrongName.certificateVerification = .noneInsecureForDevelopmentOnly
        let insecure = try await connect(server.port, tls: wrongName)
        try await insecure.send(text: "x")
        #expect(await insecure.receive() == .text("x"))
        await insecure.close()
    }

    @Test("an expired certificate is a typed error")
    func expired() async throws {
        let certificates = try TestCertificates.shared()
        let (server, task) = try server(certificate: certificates.expiredCertificateFile)
        defer { server.stop(); task.cancel() }
        await #expect(throws: WebSocketError.tlsFailed(.certificateExpired)) { _ = try await connect(server.port, tls: try trusting()) }
        let insecure = try await connect(server.port, tls: TLSConfiguration(certificateVerification: .noneInsecureForDevelopmentOnly))
        await insecure.close()
    }

    @Test("an unknown CA is a typed error, against our CA file and against the system's store")
    func unknownCA() async throws {
        let certificates = try TestCertificates.shared()
        let (server, task) = try server(certificate: certificates.untrustedCertificateFile)
        defer { server.stop(); task.cancel() }
        for configuration in [try trusting(), TLSConfiguration()] {
            do {
                _ = try await connect(server.port, tls: configuration)
                Issue.record("connected to a server signed by an unknown CA")
            } catch {
                guard case .tlsFailed(.untrustedCertificate) = error else {
                    Issue.record("unexpected error \(error)")
                    continue
                }
            }
        }
        // Our own server certificate is also unknown to the system store.
        let (good, goodTask) = try self.server(certificate: certificates.serverCertificateFile)
        defer { good.stop(); goodTask.cancel() }
        await #expect(throws: WebSocketError.self) { _ = try await connect(good.port, tls: TLSConfiguration()) }
    }

    @Test("a TLS client on a plaintext server: the typed error notTLS")
    func plaintextServer() async throws {
        let (server, task) = try startEchoServer()
        defer { server.stop(); task.cancel() }
        await #expect(throws: WebSocketError.tlsFailed(.notTLS)) { _ = try await connect(server.port, host: "127.0.0.1", tls: try trusting()) }
    }

    @Test("a peer that opens TCP and never speaks TLS is dropped at the handshake deadline; one that sends garbage instead of a hello is dropped too")
    func silentAndGarbagePeers() async throws {
        let certificates = try TestCertificates.shared()
        // 1 s: the control below must complete TCP, TLS and the upgrade within it while the
        // whole suite runs in parallel on two cores (300 ms failed there once in four runs).
        let (server, task) = try server(certificate: certificates.serverCertificateFile,
                                        configuration: WebSocketConfiguration(handshakeTimeout: .seconds(1)))
        defer { server.stop(); task.cancel() }
        let (silentClosed, garbageClosed) = try await onThread {
            let silent = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { silent.close() }
            let garbage = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5)))
            defer { garbage.close() }
            try garbage.write([0x16, 0x03, 0x01, 0x00, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
            return (try silent.waitForEOF(timeout: .seconds(10)), try garbage.waitForEOF(timeout: .seconds(10)))
        }
        #expect(silentClosed && garbageClosed)
        // Positive control: a real client still gets through.
        let client = try await connect(server.port, tls: try trusting())
        try await client.send(text: "ok")
        #expect(await client.receive() == .text("ok"))
        await client.close()
    }

    @Test("a missing certificate or a key that does not match is an error when the server is configured")
    func badServerConfiguration() throws {
        let certificates = try TestCertificates.shared()
        #expect(throws: TLSError.self) {
            _ = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificates.folder + "/missing.pem",
                                                            privateKeyFile: certificates.serverKeyFile))
        }
        #expect(throws: TLSError.self) {
            _ = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificates.caFile,
                                                            privateKeyFile: certificates.serverKeyFile))
        }
        #expect(throws: TLSError.self) {
            _ = try TLSConfiguration(trustedCertificatesFile: certificates.folder + "/missing-ca.pem").makeClientTransport(host: "x")
        }
    }
}
#else
@Suite("TLS without the trait")
struct TLSUnavailableTests {
    @Test("asking for TLS in a build without the trait is the typed error unavailable, before any connection")
    func unavailable() async throws {
        #expect(!TLSConfiguration.isAvailable)
        #expect(throws: TLSError.unavailable) {
            _ = try TLSServerContext(TLSServerConfiguration(certificateChainFile: "a.pem", privateKeyFile: "a.key"))
        }
        // A port nothing listens on: the error comes before any connect attempt would fail.
        let port = try RefusingPort()
        defer { port.release() }
        await #expect(throws: WebSocketError.tlsFailed(.unavailable)) {
            _ = try await WebSocketConnection.connect(host: "127.0.0.1", port: port.port, configuration: WebSocketConfiguration(tls: .init()))
        }
        // Positive control: the same port without TLS fails to connect.
        await #expect(throws: WebSocketError.self) {
            _ = try await WebSocketConnection.connect(host: "127.0.0.1", port: port.port)
        }
    }
}
#endif
