import Foundation

/// Certificates for TLS tests, made at test time with the `openssl` command (once per test
/// process) in a temporary folder: a test CA, a server certificate it signed for `localhost`
/// and 127.0.0.1, the same server with an expired certificate, and a server signed by a CA
/// nobody trusts.
package struct TestCertificates: Sendable {
    /// The folder holding every file.
    package let folder: String
    /// The trusted test CA's certificate (PEM).
    package var caFile: String { folder + "/ca.pem" }
    /// The server's key, shared by every server certificate here.
    package var serverKeyFile: String { folder + "/server.key" }
    /// A valid certificate for localhost and 127.0.0.1, signed by the test CA.
    package var serverCertificateFile: String { folder + "/server.pem" }
    /// The same names, signed by the test CA, but expired yesterday.
    package var expiredCertificateFile: String { folder + "/expired.pem" }
    /// The same names, signed by another CA that nothing trusts.
    package var untrustedCertificateFile: String { folder + "/untrusted.pem" }

    /// The certificates, made on first use. Throws when `openssl` is missing or fails.
    package static func shared() throws -> TestCertificates {
        try made.get()
    }

    private static let made: Result<TestCertificates, TestCertificatesError> = Result { () throws(TestCertificatesError) in
        try TestCertificates.make()
    }

    private static func make() throws(TestCertificatesError) -> TestCertificates {
        let folder = NSTemporaryDirectory() + "sensorstream-certs-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.removeItem(atPath: folder)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data("subjectAltName=DNS:localhost,IP:127.0.0.1\n".utf8).write(to: URL(fileURLWithPath: folder + "/san.ext"))
        } catch {
            throw TestCertificatesError(message: "cannot write to \(folder): \(error)")
        }
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=SensorStream Test CA"],
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=Untrusted CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "expired.pem", "-days", "-1", "-extfile", "san.ext"],
            ["x509", "-req", "-in", "server.csr", "-CA", "other-ca.pem", "-CAkey", "other-ca.key", "-CAcreateserial", "-out", "untrusted.pem", "-days", "2", "-extfile", "san.ext"],
        ]
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: folder)
            process.standardOutput = FileHandle.nullDevice
            let errors = Pipe()
            process.standardError = errors
            do {
                try process.run()
            } catch {
                throw TestCertificatesError(message: "cannot run openssl: \(error)")
            }
            let output = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw TestCertificatesError(message: "openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
            }
        }
        return TestCertificates(folder: folder)
    }
}

/// Why the test certificates could not be made.
package struct TestCertificatesError: Error, CustomStringConvertible {
    package let message: String
    package var description: String { message }
}
