import ConnectionCore
import WebSocketCore

/// The client's opening handshake (RFC 6455 section 4.1) as a ``StreamHandshake``: sends the
/// upgrade request, reads and validates the 101 response.
struct ClientUpgrade: StreamHandshake {
    let handshake: ClientHandshake
    var reader: HTTPHeadReader

    init(host: String, port: Int, path: String, configuration: WebSocketConfiguration) {
        handshake = ClientHandshake(host: host, port: port, path: path, extraHeaders: configuration.extraHeaders,
                                    deflate: configuration.deflate, secure: configuration.tls != nil)
        reader = HTTPHeadReader(maxSize: configuration.maxHandshakeSize)
        self.path = path
    }

    func initialOutput() -> [UInt8] { handshake.request }

    let path: String

    mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress {
        do {
            guard let (head, rest) = try reader.append(input) else { return .needMore }
            let deflate = try handshake.validate(head)
            return .complete(reply: [], leftover: rest, result: WebSocketHandshakeResult(path: path, head: head, deflate: deflate))
        } catch let error as HTTPHeadError {
            return .failed(reply: [], error: HandshakeError.malformedHead(error))
        } catch {
            return .failed(reply: [], error: error)
        }
    }
}

/// The server's opening handshake (RFC 6455 section 4.2): reads the upgrade request, answers
/// 101, or 400/405/426/431 and closes.
struct ServerUpgrade: StreamHandshake {
    var reader: HTTPHeadReader
    let deflate: PerMessageDeflateConfiguration?

    init(configuration: WebSocketConfiguration) {
        reader = HTTPHeadReader(maxSize: configuration.maxHandshakeSize)
        deflate = configuration.deflate
    }

    func initialOutput() -> [UInt8] { [] }

    mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress {
        let head: HTTPHead
        let rest: [UInt8]
        do {
            guard let complete = try reader.append(input) else { return .needMore }
            (head, rest) = complete
        } catch {
            let status = if case .tooLarge = error { 431 } else { 400 }
            let rejection = ServerHandshake.reject(status, error.description)
            return .failed(reply: rejection.response, error: ServerUpgradeRefusal(status: status, reason: error.description))
        }
        switch ServerHandshake.respond(to: head, deflate: deflate) {
        case .failure(let rejection):
            return .failed(reply: rejection.response, error: ServerUpgradeRefusal(status: rejection.status, reason: rejection.reason))
        case .success(let accepted):
            return .complete(reply: accepted.response, leftover: rest,
                             result: WebSocketHandshakeResult(path: accepted.path, head: accepted.request, deflate: accepted.deflate))
        }
    }
}

/// Why the server refused an upgrade request, as the rejections log shows it.
struct ServerUpgradeRefusal: Error, Sendable, CustomStringConvertible {
    let status: Int
    let reason: String
    var description: String { "refused with \(status): \(reason)" }
}
