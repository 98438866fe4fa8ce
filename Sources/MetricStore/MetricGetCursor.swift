/// Where a `get` answer produced in pieces goes on (see
/// ``MetricStorage/appendRecords(of:from:limit:to:)``): the key it reached, in first-put order
/// (always 0 for a single key), and the last timestamp of that key already listed.
package struct MetricGetCursor: Sendable, Hashable {
    /// The index of the key being listed, among the keys the `get` names.
    package var keyIndex = 0
    /// The last timestamp of that key already listed; nil: none yet.
    package var after: Int64?

    /// The start of an answer.
    package init() {}
}
