/// What a stream (or callback) does when its consumer falls behind: how many readings it
/// buffers, and what happens when that buffer is full.
///
/// ```swift
/// for await reading in client.readings("CE7238J", buffering: .lossless(1024)) { record(reading) }
/// ```
public enum ReadingBuffering: Sendable, Hashable {
    /// Buffer up to this many readings; when full, drop the oldest (counted in
    /// ``ClientStatistics/readingsDropped``). A live display wants this: the newest matter.
    case newest(Int)
    /// Buffer up to this many readings; when full, stop taking messages from the connection
    /// until the consumer makes room. The connection then stops reading the socket and TCP
    /// slows the server down: nothing is dropped on the client's side, but every other
    /// stream of the same connection waits too. A recorder wants this.
    case lossless(Int)

    /// The buffer size (at least 1).
    public var limit: Int {
        switch self {
        case .newest(let limit), .lossless(let limit): max(1, limit)
        }
    }

    /// Whether a full buffer holds the connection back instead of dropping.
    public var isLossless: Bool {
        if case .lossless = self { true } else { false }
    }
}
