/// TLS for a client connection: `wss://` for `SensorClient`-style clients, and the same
/// value for every client of this package (metric store, fast/slow, lantern, agent).
///
/// TLS needs the package trait `TLS` (`swift build --traits TLS`), which links the system's
/// OpenSSL 3; ``isAvailable`` tells whether this build has it. Without it, a connection asked
/// to use TLS fails at once with ``TLSError/unavailable``, never silently in plaintext.
///
/// The defaults are the safe ones: the server's certificate chain is verified against the
/// system's trust store, and its name against the host connected to (sent as SNI).
public struct TLSConfiguration: Sendable, Hashable {
    /// How the server's certificate is checked.
    public enum CertificateVerification: Sendable, Hashable {
        /// Chain to a trusted root, validity dates, and the server's name. The default.
        case full
        /// No check at all: anyone on the path can read and change the traffic. For a
        /// development server with a throwaway certificate only.
        case noneInsecureForDevelopmentOnly
    }

    /// How the server's certificate is checked. Default ``CertificateVerification/full``.
    public var certificateVerification: CertificateVerification
    /// A PEM file of CA certificates to trust instead of the system's store (a private CA).
    /// Default nil: the system's trust store.
    public var trustedCertificatesFile: String?
    /// The name to send as SNI and to verify the certificate against, when it differs from
    /// the host connected to (an IP address behind a name). Default nil: the host.
    public var serverName: String?

    /// A client TLS configuration; every parameter left out keeps its default.
    /// - Parameters:
    ///   - certificateVerification: See ``certificateVerification``.
    ///   - trustedCertificatesFile: See ``trustedCertificatesFile``.
    ///   - serverName: See ``serverName``.
    public init(certificateVerification: CertificateVerification = .full, trustedCertificatesFile: String? = nil,
                serverName: String? = nil) {
        self.certificateVerification = certificateVerification
        self.trustedCertificatesFile = trustedCertificatesFile
        self.serverName = serverName
    }

    /// Whether this build links OpenSSL (the package trait `TLS`).
    public static var isAvailable: Bool {
        #if TLS
        true
        #else
        false
        #endif
    }
}

/// Why a TLS connection could not be set up or went wrong.
public enum TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// This build has no TLS: build with `--traits TLS` (and OpenSSL 3's development files).
    case unavailable
    /// The server's certificate has expired (or is not valid yet).
    case certificateExpired
    /// The server's certificate is not for the name connected to.
    case hostnameMismatch(String)
    /// The server's certificate does not chain to a trusted root (an unknown CA, a
    /// self-signed certificate).
    case untrustedCertificate(String)
    /// The certificate failed verification for another reason (OpenSSL's text).
    case certificateRejected(String)
    /// The peer does not speak TLS (a plaintext server on a `wss://` URL).
    case notTLS
    /// The TLS handshake or a record failed (OpenSSL's text: a protocol alert, no shared cipher ...).
    case protocolFailure(String)
    /// A certificate, key or CA file could not be used (OpenSSL's text).
    case invalidConfiguration(String)

    /// A readable explanation, for logs and messages.
    public var description: String {
        switch self {
        case .unavailable: "TLS is not available in this build (build with --traits TLS)"
        case .certificateExpired: "the server's certificate has expired or is not yet valid"
        case .hostnameMismatch(let name): "the server's certificate is not valid for \(name)"
        case .untrustedCertificate(let reason): "the server's certificate is not trusted: \(reason)"
        case .certificateRejected(let reason): "the server's certificate was rejected: \(reason)"
        case .notTLS: "the peer does not speak TLS"
        case .protocolFailure(let reason): "TLS failed: \(reason)"
        case .invalidConfiguration(let reason): "invalid TLS configuration: \(reason)"
        }
    }
}

/// A server's TLS identity: its certificate chain and private key, as PEM files.
public struct TLSServerConfiguration: Sendable, Hashable {
    /// A PEM file with the server's certificate first, then any intermediate certificates.
    public var certificateChainFile: String
    /// A PEM file with the certificate's private key (unencrypted).
    public var privateKeyFile: String

    /// A server identity from two PEM files.
    /// - Parameters:
    ///   - certificateChainFile: See ``certificateChainFile``.
    ///   - privateKeyFile: See ``privateKeyFile``.
    public init(certificateChainFile: String, privateKeyFile: String) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
    }
}
