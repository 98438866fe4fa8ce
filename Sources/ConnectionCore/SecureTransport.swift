/// A layer between the socket and a connection's handshake and codec that transforms the
/// byte stream both ways: TLS. Sans-I/O: ciphertext in, plaintext out; plaintext in,
/// ciphertext out. Owned by one connection's state and only used under its lock.
package protocol SecureTransport: AnyObject, Sendable {
    /// Ciphertext to send as soon as TCP is up (a client's hello); empty for a server.
    func start() -> [UInt8]
    /// Decrypts received bytes, appending the plaintext to `plaintext`.
    func receive(_ ciphertext: UnsafeRawBufferPointer, into plaintext: inout [UInt8]) -> SecureTransportStatus
    /// Encrypts `plaintext` for the peer (held until the handshake completes).
    func send(_ plaintext: UnsafeRawBufferPointer)
    /// Ciphertext waiting to be written to the socket (handshake records, alerts, data).
    func takeOutput() -> [UInt8]
    /// Queues this side's close notification.
    func close()
    /// Whether the layer's own handshake has completed (data flows both ways).
    var isEstablished: Bool { get }
}

/// What a ``SecureTransport`` made of received bytes.
package enum SecureTransportStatus: Sendable {
    /// All is well (more bytes may be needed).
    case open
    /// The peer sent its close notification: no more data will come.
    case closedByPeer
    /// The layer failed; the connection must end. `reply` is plaintext the peer may read (an
    /// HTTP 400 to a plaintext client on a TLS port), sent unencrypted before closing.
    case failed(TLSError, reply: [UInt8])
}

extension TLSConfiguration {
    /// The client layer for a connection to `host`.
    /// - Throws: ``TLSError/unavailable`` without the TLS trait; ``TLSError/invalidConfiguration(_:)``
    ///   when the CA file cannot be read.
    package func makeClientTransport(host: String) throws(TLSError) -> any SecureTransport {
        #if TLS
        try OpenSSLTransport(client: self, host: host)
        #else
        throw .unavailable
        #endif
    }
}

/// A server's TLS identity loaded once (certificate chain and key checked at configuration
/// time), from which each accepted connection gets its layer.
package final class TLSServerContext: Sendable {
    #if TLS
    private let context: OpenSSLContext
    #endif

    /// Loads and checks the certificate chain and key.
    /// - Throws: ``TLSError/unavailable`` without the TLS trait; ``TLSError/invalidConfiguration(_:)``
    ///   for a missing or unreadable file, or a key that does not match the certificate.
    package init(_ configuration: TLSServerConfiguration) throws(TLSError) {
        #if TLS
        context = try OpenSSLContext(server: configuration)
        #else
        throw .unavailable
        #endif
    }

    /// The context for an optional identity: nil for nil (a plaintext server).
    /// - Throws: as ``init(_:)``.
    package static func loading(_ configuration: TLSServerConfiguration?) throws(TLSError) -> TLSServerContext? {
        guard let configuration else { return nil }
        return try TLSServerContext(configuration)
    }

    /// A fresh layer for one accepted connection.
    package func makeTransport() -> any SecureTransport {
        #if TLS
        OpenSSLTransport(server: context)
        #else
        preconditionFailure("Internal inconsistency: a TLS server context without TLS")
        #endif
    }
}
