import WebSocketCore

/// Reads HTTP/1.1 requests from a byte stream, without sockets: heads up to a limit, bodies by
/// `Content-Length` up to a limit, pipelined requests in order, resumable at any split. The
/// first bad request ends the stream with the status that refuses it.
package struct HTTPRequestParser: Sendable {
    /// Why a request is refused: the status to answer (the connection then closes) and why.
    package struct Failure: Error, Sendable, Hashable {
        package var status: Int
        package var reason: String
    }

    /// What the stream gave.
    package enum Output: Sendable, Hashable {
        case request(HTTPRequest)
        case failure(Failure)
    }

    /// The largest head (request line and fields), in bytes. Default 16 KiB.
    package let maxHeadSize: Int
    /// The largest body, in bytes. Default 64 KiB.
    package let maxBodySize: Int

    private enum Stage: Sendable {
        case head(HTTPHeadReader)
        case body(method: String, target: String, version: String, head: HTTPHead, length: Int, received: [UInt8])
        /// After a failure, or after a request that upgrades the connection: nothing more is HTTP.
        case stopped
    }

    private var stage: Stage
    private var upgraded = false
    /// Bytes that followed a request that upgrades the connection (they belong to the new
    /// protocol; a WebSocket client sends none before the 101).
    package private(set) var leftover: [UInt8] = []

    package init(maxHeadSize: Int = 16 << 10, maxBodySize: Int = 64 << 10) {
        self.maxHeadSize = maxHeadSize
        self.maxBodySize = maxBodySize
        stage = .head(HTTPHeadReader(maxSize: maxHeadSize))
    }

    /// Whether it stopped (a failure, or an upgrade request: what follows belongs to the new protocol).
    package var isStopped: Bool { if case .stopped = stage { true } else { false } }

    /// Appends what `input` completes.
    package mutating func feed(_ input: UnsafeRawBufferPointer, into outputs: inout [Output]) {
        var pending = [UInt8](input)
        while !pending.isEmpty {
            switch stage {
            case .stopped:
                if upgraded { leftover += pending }
                return
            case .head(var reader):
                let result = pending.withUnsafeBytes { bytes in Result { () throws(HTTPHeadError) in try reader.append(bytes) } }
                pending = []
                switch result {
                case .failure(.tooLarge):
                    fail(431, "request head over \(maxHeadSize) bytes", into: &outputs)
                case .failure(.malformed(let what)):
                    fail(400, what, into: &outputs)
                case .success(nil):
                    stage = .head(reader)
                case .success(let (head, rest)?):
                    pending = rest
                    begin(head, into: &outputs)
                }
            case .body(let method, let target, let version, let head, let length, var received):
                let take = min(length - received.count, pending.count)
                received += pending[..<take]
                pending.removeFirst(take)
                if received.count == length {
                    finish(HTTPRequest(method: method, target: target, version: version, head: head, body: received), into: &outputs)
                } else {
                    stage = .body(method: method, target: target, version: version, head: head, length: length, received: received)
                }
            }
        }
    }

    /// Checks a head; goes on to its body, or emits the request.
    private mutating func begin(_ head: HTTPHead, into outputs: inout [Output]) {
        let parts = head.startLine.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].utf8.allSatisfy(Self.isTokenByte),
              parts[1].hasPrefix("/") || parts[1] == "*", !parts[1].contains(where: \.isWhitespace) else {
            return fail(400, "invalid request line", into: &outputs)
        }
        let version = parts[2]
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            let wellFormed = version.hasPrefix("HTTP/") && version.count == 8 && version.dropFirst(5).enumerated().allSatisfy { index, character in
                index == 1 ? character == "." : character.isASCII && character.isNumber
            }
            return fail(wellFormed ? 505 : 400, "unsupported version \(version)", into: &outputs)
        }
        if version == "HTTP/1.1" && head["Host"] == nil { return fail(400, "missing Host", into: &outputs) }
        if head["Transfer-Encoding"] != nil { return fail(501, "Transfer-Encoding is not supported; send Content-Length", into: &outputs) }
        let lengths = head.fields.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        var length = 0
        if let first = lengths.first {
            guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  first.utf8.count <= 18, let value = Int(first) else {
                return fail(400, "invalid Content-Length", into: &outputs)
            }
            length = value
        }
        guard length <= maxBodySize else { return fail(413, "body over \(maxBodySize) bytes", into: &outputs) }
        if length == 0 {
            finish(HTTPRequest(method: parts[0], target: parts[1], version: version, head: head, body: []), into: &outputs)
        } else {
            stage = .body(method: parts[0], target: parts[1], version: version, head: head, length: length, received: [])
        }
    }

    private mutating func finish(_ request: HTTPRequest, into outputs: inout [Output]) {
        outputs.append(.request(request))
        upgraded = request.isWebSocketUpgrade
        stage = upgraded ? .stopped : .head(HTTPHeadReader(maxSize: maxHeadSize))
    }

    private mutating func fail(_ status: Int, _ reason: String, into outputs: inout [Output]) {
        outputs.append(.failure(Failure(status: status, reason: reason)))
        stage = .stopped
    }

    /// RFC 9110 token characters (a method).
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
