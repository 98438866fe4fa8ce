#if TLS
import COpenSSL
import Locking

/// An OpenSSL `SSL_CTX`: the settings shared by connections (verification, trust store,
/// server identity). Immutable once made, which OpenSSL allows to share across threads.
final class OpenSSLContext: @unchecked Sendable {
    let context: OpaquePointer
    let verifies: Bool

    /// A client context for `configuration`.
    init(client configuration: TLSConfiguration) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw .invalidConfiguration(openSSLErrors()) }
        self.context = context
        verifies = configuration.certificateVerification == .full
        SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        if verifies {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if let file = configuration.trustedCertificatesFile {
                guard SSL_CTX_load_verify_locations(context, file, nil) == 1 else {
                    throw .invalidConfiguration("cannot load CA file \(file): \(openSSLErrors())")
                }
            } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                throw .invalidConfiguration("cannot load the system trust store: \(openSSLErrors())")
            }
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
    }

    /// A server context with the identity in `configuration`.
    init(server configuration: TLSServerConfiguration) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .invalidConfiguration(openSSLErrors()) }
        self.context = context
        verifies = false
        SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificateChainFile) == 1 else {
            throw .invalidConfiguration("cannot load certificate chain \(configuration.certificateChainFile): \(openSSLErrors())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw .invalidConfiguration("cannot load private key \(configuration.privateKeyFile): \(openSSLErrors())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .invalidConfiguration("the private key does not match the certificate: \(openSSLErrors())")
        }
    }

    deinit { SSL_CTX_free(context) }

    /// Client contexts by configuration: loading a trust store per connection would cost
    /// milliseconds per reconnect.
    private static let clientContexts = LockedValue<[TLSConfiguration: OpenSSLContext]>([:])

    static func client(_ configuration: TLSConfiguration) throws(TLSError) -> OpenSSLContext {
        if let cached = clientContexts.withLock({ $0[configuration] }) { return cached }
        let made = try OpenSSLContext(client: configuration)
        return clientContexts.withLock { contexts in
            if let raced = contexts[configuration] { return raced }
            contexts[configuration] = made
            return made
        }
    }
}

/// TLS over OpenSSL with memory BIOs: the ``SecureTransport`` of builds with the TLS trait.
///
/// OpenSSL never touches the socket: received ciphertext is written into one memory BIO,
/// what OpenSSL wants to send is read out of the other. Used under its connection's lock, on
/// one thread at a time; OpenSSL's error queue is per thread and cleared before each call.
final class OpenSSLTransport: SecureTransport, @unchecked Sendable {
    private let context: OpenSSLContext
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    private let isClient: Bool
    /// The name the certificate is checked against (clients).
    private let serverName: String
    private var handshakeComplete = false
    /// Set once OpenSSL failed; every later call reports it, so the connection ends.
    private var failure: TLSError?
    /// Plaintext queued before the handshake completed.
    private var pending: [UInt8] = []
    /// Where SSL_read decrypts to before the bytes are appended to the caller's buffer.
    private let readChunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)

    /// A client connection to `host`.
    convenience init(client configuration: TLSConfiguration, host: String) throws(TLSError) {
        let context = try OpenSSLContext.client(configuration)
        let name = configuration.serverName ?? host
        self.init(context: context, isClient: true, serverName: name)
        SSL_set_connect_state(ssl)
        let isAddress = name.contains(":") || name.split(separator: ".").allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        if !isAddress { _ = sensorstream_SSL_set_tlsext_host_name(ssl, name) }
        if context.verifies {
            if isAddress {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
            } else {
                SSL_set1_host(ssl, name)
            }
        }
    }

    /// A server's side of one accepted connection.
    convenience init(server context: OpenSSLContext) {
        self.init(context: context, isClient: false, serverName: "")
        SSL_set_accept_state(ssl)
    }

    private init(context: OpenSSLContext, isClient: Bool, serverName: String) {
        self.context = context
        self.isClient = isClient
        self.serverName = serverName
        // Allocation failures here are out-of-memory: nothing sensible to do but stop.
        guard let ssl = SSL_new(context.context), let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            preconditionFailure("OpenSSL could not allocate a connection")
        }
        self.ssl = ssl
        self.input = input
        self.output = output
        SSL_set_bio(ssl, input, output)  // the SSL owns both BIOs from here on
    }

    deinit {
        SSL_free(ssl)
        readChunk.deallocate()
    }

    func start() -> [UInt8] {
        guard isClient else { return [] }
        _ = advanceHandshake()
        return takeOutput()
    }

    func receive(_ ciphertext: UnsafeRawBufferPointer, into plaintext: inout [UInt8]) -> SecureTransportStatus {
        if let failure { return .failed(failure, reply: []) }
        if ciphertext.count > 0 {
            let written = BIO_write(input, ciphertext.baseAddress, Int32(ciphertext.count))
            precondition(written == Int32(ciphertext.count), "Internal inconsistency: a memory BIO took \(written) of \(ciphertext.count) bytes")
        }
        if !handshakeComplete {
            if let failure = advanceHandshake() { return failure }
            guard handshakeComplete else { return .open }
        }
        return readPlaintext(into: &plaintext)
    }

    /// Runs the handshake as far as the received bytes allow; a failure status if it failed.
    private func advanceHandshake() -> SecureTransportStatus? {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            handshakeComplete = true
            if !pending.isEmpty {
                let queued = pending
                pending = []
                queued.withUnsafeBytes { write($0) }
            }
            return nil
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return nil }
        let (reason, plaintextHTTP) = handshakeError()
        failure = reason
        return .failed(reason, reply: !isClient && plaintextHTTP ? Self.plaintextRefusal : [])
    }

    private func readPlaintext(into plaintext: inout [UInt8]) -> SecureTransportStatus {
        while true {
            ERR_clear_error()
            let count = SSL_read(ssl, readChunk.baseAddress, Int32(readChunk.count))
            if count > 0 {
                plaintext.append(contentsOf: UnsafeRawBufferPointer(rebasing: readChunk[..<Int(count)]))
                continue
            }
            let error = SSL_get_error(ssl, count)
            switch error {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return .open
            case SSL_ERROR_ZERO_RETURN:
                return .closedByPeer
            default:
                let error = TLSError.protocolFailure(openSSLErrors())
                failure = error
                return .failed(error, reply: [])
            }
        }
    }

    func send(_ plaintext: UnsafeRawBufferPointer) {
        guard plaintext.count > 0, failure == nil else { return }
        guard handshakeComplete else {
            pending.append(contentsOf: plaintext)
            return
        }
        write(plaintext)
    }

    private func write(_ plaintext: UnsafeRawBufferPointer) {
        ERR_clear_error()
        // A memory BIO grows as needed, so SSL_write takes everything at once.
        let written = SSL_write(ssl, plaintext.baseAddress, Int32(plaintext.count))
        // Only a fatal error fails here; the next received bytes end the connection with it.
        if written != Int32(plaintext.count) { failure = .protocolFailure(openSSLErrors()) }
    }

    func takeOutput() -> [UInt8] {
        let available = Int(BIO_ctrl_pending(output))
        guard available > 0 else { return [] }
        // A memory BIO hands over everything pending in one read.
        return [UInt8](unsafeUninitializedCapacity: available) { buffer, initialized in
            initialized = Int(max(0, BIO_read(output, buffer.baseAddress, Int32(available))))
        }
    }

    var isEstablished: Bool { handshakeComplete }

    func close() {
        guard handshakeComplete, failure == nil else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    // MARK: Errors

    /// The typed reason of a failed handshake: the verification result first, then what
    /// OpenSSL's error queue says; and whether the peer sent a plaintext HTTP request.
    private func handshakeError() -> (TLSError, plaintextHTTP: Bool) {
        let verification = Int32(SSL_get_verify_result(ssl))
        if isClient && context.verifies && verification != X509_V_OK {
            let text = String(cString: X509_verify_cert_error_string(Int(verification)))
            switch verification {
            case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
                return (.certificateExpired, false)
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
                return (.hostnameMismatch(serverName), false)
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                 X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
                return (.untrustedCertificate(text), false)
            default:
                return (.certificateRejected(text), false)
            }
        }
        let code = ERR_peek_error()
        if code != 0 {
            let reason = sensorstream_ERR_GET_REASON(code)
            if [SSL_R_WRONG_VERSION_NUMBER, SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_PACKET_LENGTH_TOO_LONG,
                SSL_R_UNKNOWN_PROTOCOL, SSL_R_RECORD_LENGTH_MISMATCH].contains(reason) {
                ERR_clear_error()
                return (.notTLS, reason == SSL_R_HTTP_REQUEST)
            }
        }
        return (.protocolFailure(openSSLErrors()), false)
    }

    /// What a plaintext client on a TLS port reads before the connection closes.
    private static let plaintextRefusal: [UInt8] = {
        let body = "this port speaks TLS: use wss:// or https://\n"
        return Array(("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                      + "Connection: close\r\n\r\n" + body).utf8)
    }()
}

/// OpenSSL's error queue as text (and emptied), or a generic phrase when it is empty.
func openSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        guard code != 0 else { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
}
#endif
