/// Bytes waiting for the socket, as the chunks they were queued in (no copying to append).
/// A writer takes them all out under the connection's lock, writes outside it, and puts back
/// what the socket did not take, in front of anything queued meanwhile.
struct OutboundQueue: Sendable {
    private var chunks: [[UInt8]] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        count += bytes.count
        chunks.append(bytes)
    }

    /// Takes every chunk, oldest first.
    mutating func takeAll() -> [[UInt8]] {
        defer {
            chunks = []
            count = 0
        }
        return chunks
    }

    /// Puts unwritten chunks back in front of what was queued since they were taken.
    mutating func putBack(_ remaining: [[UInt8]]) {
        guard !remaining.isEmpty else { return }
        count += remaining.reduce(0) { $0 + $1.count }
        chunks = remaining + chunks
    }

    mutating func removeAll() {
        chunks = []
        count = 0
    }
}
