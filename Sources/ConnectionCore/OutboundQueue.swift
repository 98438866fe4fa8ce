/// Chunks of bytes taken for writing: usually one, held without allocating a list.
struct OutboundChunks: Sendable {
    var first: [UInt8]
    var more: [[UInt8]] = []

    var count: Int { 1 + more.count }
    subscript(index: Int) -> [UInt8] { index == 0 ? first : more[index - 1] }

    /// What is left from chunk `index`, byte `offset` on.
    func remaining(from index: Int, offset: Int) -> OutboundChunks {
        OutboundChunks(first: Array(self[index][offset...]), more: Array(more[index...]))
    }
}

/// Bytes waiting for the socket. A writer takes them all out under the connection's lock,
/// writes outside it, and puts back what the socket did not take, in front of anything queued
/// meanwhile.
///
/// The first bytes queued are kept as they came (no copy: the common send is written at once).
/// Bytes queued behind others are copied onto the last chunk while it is under
/// ``chunkSize``, so messages that waited together (a coalesced burst, output behind a full
/// socket) go out in one `send` per 64 KiB instead of one per message.
struct OutboundQueue: Sendable {
    /// The size up to which queued bytes are gathered into one chunk.
    static let chunkSize = 64 * 1024

    private var head: [UInt8]?
    private var tail: [[UInt8]] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// How many chunks wait (for tests).
    var chunkCount: Int { head == nil ? 0 : 1 + tail.count }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        count += bytes.count
        guard head != nil else {
            head = bytes
            return
        }
        if let last = tail.indices.last {
            if tail[last].count + bytes.count <= Self.chunkSize {
                tail[last].append(contentsOf: bytes)
                return
            }
        } else if head!.count + bytes.count <= Self.chunkSize {
            head!.append(contentsOf: bytes)
            return
        }
        tail.append(bytes)
    }

    /// Takes every chunk, oldest first; nil when nothing waits.
    mutating func takeAll() -> OutboundChunks? {
        guard let first = head else { return nil }
        defer {
            head = nil
            tail = []
            count = 0
        }
        return OutboundChunks(first: first, more: tail)
    }

    /// Puts unwritten chunks back in front of what was queued since they were taken.
    mutating func putBack(_ remaining: OutboundChunks?) {
        guard let remaining else { return }
        count += remaining.first.count + remaining.more.reduce(0) { $0 + $1.count }
        let queued = head.map { [$0] + tail } ?? []
        head = remaining.first
        tail = remaining.more + queued
    }

    mutating func removeAll() {
        head = nil
        tail = []
        count = 0
    }
}
