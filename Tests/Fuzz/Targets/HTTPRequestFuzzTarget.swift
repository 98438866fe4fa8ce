import WebServer

/// Fuzzing of the HTTP/1.1 request parser (the Lantern stand's API and page, the dashboard).
///
/// Input: the first byte chooses a split point; the rest is a client's byte stream. Checks:
/// whole, split in two and in uneven chunks the parser gives the same requests and failure;
/// a failure is one of the statuses the server answers with and comes last; every request has
/// a valid method and target, a body of its `Content-Length`, within the limits.
enum HTTPRequestFuzzTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let (seed, stream, cut) = splitPoint(input) else { return }
        let whole = parse([stream])
        precondition(parse([Array(stream[..<cut]), Array(stream[cut...])]) == whole, "the parser depends on where the input was split")
        var chunks: [[UInt8]] = []
        var offset = 0
        for size in chunkSizes(count: stream.count, seed: seed) {
            chunks.append(Array(stream[offset..<(offset + size)]))
            offset += size
        }
        precondition(parse(chunks) == whole, "uneven chunks differ")
        for (index, output) in whole.enumerated() {
            switch output {
            case .request(let request):
                precondition(!request.method.isEmpty && (request.target.hasPrefix("/") || request.target == "*"))
                precondition(request.body.count == Int(request["Content-Length"] ?? "0") ?? -1, "body length differs from Content-Length")
                precondition(request.body.count <= 1024, "body over the limit")
            case .failure(let failure):
                precondition([400, 413, 431, 501, 505].contains(failure.status), "unexpected status \(failure.status)")
                precondition(index == whole.count - 1, "output after a failure")
            }
        }
    }

    private static func parse(_ chunks: [[UInt8]]) -> [HTTPRequestParser.Output] {
        var parser = HTTPRequestParser(maxHeadSize: 2048, maxBodySize: 1024)
        var outputs: [HTTPRequestParser.Output] = []
        for chunk in chunks { chunk.withUnsafeBytes { parser.feed($0, into: &outputs) } }
        return outputs
    }
}
