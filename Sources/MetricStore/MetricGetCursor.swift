/// Where a `get` answer produced in pieces goes on (see
/// ``MetricStorage/appendRecords(of:between:and:after:limit:byteLimit:to:)``): the key it
/// reached, by its place in first-put order (for a single key: 0 while it is listed, 1 once it
/// is done), and the last timestamp of that key already listed.
package struct MetricGetCursor: Sendable, Hashable {
    /// The place of the key being listed (ranks only grow; a key removed by retention leaves a
    /// gap the next piece steps over).
    package var keyRank: UInt64 = 0
    /// The last timestamp of that key already listed; nil: none yet.
    package var after: Int64?

    /// The start of an answer.
    package init() {}
}
