import ConnectionCore

/// A response to write, and whether the connection stays open after it.
package struct HTTPResponseMessage: Sendable {
    package var response: HTTPResponse
    package var keepAlive: Bool
}

/// Switches a connection to another protocol: `response` (a 101) goes out, then every byte in
/// either direction belongs to `codec`.
package struct HTTPUpgrade: Sendable {
    package var response: [UInt8]
    package var codec: any StreamCodec
}

/// What an HTTP server connection sends before it is upgraded.
package enum HTTPServerOutbound: Sendable {
    /// A response.
    case response(HTTPResponseMessage)
    /// A `101 Switching Protocols`; the connection then speaks the upgrade's codec.
    case upgrade(HTTPUpgrade)
}

/// The server side of HTTP/1.1 as a codec for the shared connection core: received bytes
/// become ``HTTPRequest``s (or one ``HTTPRequestParser/Failure`` event, after which nothing is
/// read); ``HTTPServerOutbound`` values go out. After an upgrade every call goes to the new
/// protocol's codec (a WebSocket page on the same port as the page itself).
struct HTTPServerCodec: MessageCodec {
    typealias Inbound = HTTPRequest
    typealias Outbound = HTTPServerOutbound
    /// A request the parser refuses (its status and reason are the answer).
    typealias Failure = HTTPRequestParser.Failure

    private var parser: HTTPRequestParser
    private var output: [UInt8] = []
    private var closed = false
    /// A request was refused (``HTTPRequestParser/Failure``): nothing more is read.
    private var failed = false
    private var upgraded: (any StreamCodec)?

    init(maxHeadSize: Int, maxBodySize: Int) {
        parser = HTTPRequestParser(maxHeadSize: maxHeadSize, maxBodySize: maxBodySize)
    }

    // After an upgrade every call goes to the new codec in place (`upgraded?.`): copying it out
    // and back would copy its buffers on every read and write.

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        if upgraded != nil {
            upgraded?.receive(input, into: &events)
            return
        }
        guard !closed, !failed else { return }
        var outputs: [HTTPRequestParser.Output] = []
        parser.feed(UnsafeRawBufferPointer(input), into: &outputs)
        for output in outputs {
            switch output {
            case .request(let request):
                events.append(.message(request, byteCount: request.body.count + 64))
            case .failure(let failure):
                failed = true
                events.append(.failed(failure))
                return
            }
        }
    }

    /// Before an upgrade: an ``HTTPServerOutbound``; after it, what the new codec sends.
    mutating func send(_ message: any Sendable) throws(ConnectionError) {
        if upgraded != nil {
            try upgraded?.send(message)
            return
        }
        try queue(Self.outbound(message))
    }

    mutating func queue(_ message: HTTPServerOutbound) throws(ConnectionError) {
        guard !closed else { throw .closed }
        switch message {
        case .response(let message):
            output += message.response.bytes(keepAlive: message.keepAlive)
        case .upgrade(let upgrade):
            output += upgrade.response
            var codec = upgrade.codec
            if !parser.leftover.isEmpty {
                // Frames before the 101 are a client error; the new codec sees them anyway.
                var leftover = parser.leftover
                var ignored: [CodecEvent] = []
                leftover.withUnsafeMutableBytes { codec.receive($0, into: &ignored) }
            }
            upgraded = codec
            // The HTTP side is over: let its buffers go.
            parser = HTTPRequestParser(maxHeadSize: parser.maxHeadSize, maxBodySize: parser.maxBodySize)
        }
    }

    mutating func startClose(_ request: any Sendable) {
        if upgraded != nil { upgraded?.startClose(request) } else { closed = true }
    }

    var isReading: Bool { upgraded?.isReading ?? (!closed && !failed) }

    mutating func takeOutput() -> [UInt8] {
        var bytes = output
        output = []
        guard upgraded != nil else { return bytes }
        // The 101 goes out before anything of the new protocol.
        let more = upgraded?.takeOutput() ?? []
        if bytes.isEmpty { return more }
        bytes += more
        return bytes
    }

    mutating func reclaimOutputBuffer(_ buffer: inout [UInt8]) {
        upgraded?.reclaimOutputBuffer(&buffer)
    }

    var needsFinishClosing: Bool { upgraded?.needsFinishClosing ?? false }
    mutating func finishClosing() { upgraded?.finishClosing() }
    var isClosed: Bool { upgraded?.isClosed ?? closed }
    var closesTransportFirst: Bool { upgraded?.closesTransportFirst ?? true }

    mutating func transportClosed() -> any Sendable {
        closed = true
        return upgraded?.transportClosed() ?? "closed"
    }

    mutating func sendProbe(id: UInt64) -> Bool { upgraded?.sendProbe(id: id) ?? false }
}
