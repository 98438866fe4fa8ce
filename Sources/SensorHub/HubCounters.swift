/// The hub's counters, as `hub_statistics` reports them.
package struct HubCounters: Sendable, Hashable {
    /// Readings queued for subscribers, and readings dropped for slow ones.
    package var delivered = 0
    package var dropped = 0
    /// Connections closed for a protocol violation or a wrong agent token.
    package var violations = 0
    /// Commands refused for want of a right (403).
    package var forbidden = 0
    /// Requests refused for a per-connection limit (429 answers and 1008 closes).
    package var limitsExceeded = 0
    /// Statuses, answers, acknowledgements and commands a connection's full output refused.
    package var messagesDropped = 0
    /// Upgrade requests refused before the upgrade (a missing or wrong token: 401; a foreign
    /// origin: 403), as the I/O layer last reported them.
    package var upgradesRefused = 0
    /// History points that never reached the metric store: dropped because it could not keep
    /// up, or lost with a batch it refused or could not take (0 without history).
    package var historyDropped = 0
}
