import WebSocketCore

/// Fuzzing of both sides of the opening handshake: the bounded head reader fed whole and in
/// uneven chunks (same head or same error), then the client's validation of a response or
/// the server's answer to a request.
///
/// Input: the first byte is the chunking seed; the rest is what the peer sent.
enum HandshakeFuzzTarget {
    static let maxHeadSize = 2048
    static let client = ClientHandshake(host: "hub.local", port: 5192, path: "/", nonce: Array(0..<16), deflate: .init())

    static func runClient(_ input: UnsafeRawBufferPointer) {
        guard let head = readHead(input) else { return }
        do throws(HandshakeError) {
            try client.validate(head)
            // Accepted: it must really be a 101 with our accept value.
            precondition(head.startLine.split(separator: " ").dropFirst().first == "101", "accepted a non-101 response")
            precondition(head["Sec-WebSocket-Accept"] == ClientHandshake.acceptValue(forKey: client.key),
                         "accepted a response with a wrong Sec-WebSocket-Accept")
        } catch {
            _ = error.description
        }
    }

    static func runServer(_ input: UnsafeRawBufferPointer) {
        guard let request = readHead(input) else { return }
        switch ServerHandshake.respond(to: request, deflate: .init()) {
        case .success(let accepted):
            guard let key = request["Sec-WebSocket-Key"] else { preconditionFailure("accepted a request without a key") }
            let response = parse(accepted.response)
            precondition(response?["Sec-WebSocket-Accept"] == ClientHandshake.acceptValue(forKey: key),
                         "the 101 response carries a wrong accept value")
            precondition(request.startLine.hasPrefix("GET "), "accepted a request that is not a GET")
        case .failure(let rejected):
            precondition((400..<500).contains(rejected.status), "refused with a status outside 4xx")
            precondition(parse(rejected.response) != nil, "the refusal is not a valid HTTP head")
        }
    }

    /// Reads a head whole and in uneven chunks; both must agree. Nil if there is no head.
    static func readHead(_ input: UnsafeRawBufferPointer) -> HTTPHead? {
        guard let seed = input.first else { return nil }
        let bytes = Array(input.dropFirst())
        let whole = read(bytes, chunks: [bytes.count])
        let chunked = read(bytes, chunks: chunkSizes(count: bytes.count, seed: seed))
        precondition(whole.description == chunked.description, "chunked head reading differs: \(whole) vs \(chunked)")
        if case .head(let head, _) = whole { return head }
        return nil
    }

    enum Outcome: CustomStringConvertible {
        case head(HTTPHead, rest: [UInt8])
        case incomplete(buffered: Int)
        case failed(HTTPHeadError)

        var description: String {
            switch self {
            case .head(let head, let rest): "head \(head.startLine) \(head.fields.map { "\($0.name)=\($0.value)" }) rest \(rest)"
            case .incomplete: "incomplete"
            case .failed(let error): "failed \(error)"
            }
        }
    }

    static func read(_ bytes: [UInt8], chunks: [Int]) -> Outcome {
        var reader = HTTPHeadReader(maxSize: maxHeadSize)
        var offset = 0
        var fed = 0
        for size in chunks where size > 0 {
            let chunk = bytes[offset..<offset + size]
            offset += size
            fed += size
            let appended = chunk.withUnsafeBytes { buffer in
                Result { () throws(HTTPHeadError) in try reader.append(buffer) }
            }
            switch appended {
            case .success(let (head, rest)?):
                // What followed the head: the rest of this chunk plus everything not fed yet.
                return .head(head, rest: rest + bytes[offset...])
            case .success(nil):
                break
            case .failure(let error):
                return .failed(error)
            }
            precondition(fed <= maxHeadSize, "the reader kept buffering past its limit")
        }
        return .incomplete(buffered: fed)
    }

    /// Parses bytes we generated ourselves; nil if they are not a complete head.
    static func parse(_ bytes: [UInt8]) -> HTTPHead? {
        var reader = HTTPHeadReader(maxSize: 1 << 16)
        let appended = bytes.withUnsafeBytes { buffer in Result { () throws(HTTPHeadError) in try reader.append(buffer) } }
        return (try? appended.get())??.head
    }
}
