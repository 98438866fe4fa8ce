/// When a send that may wait for its loop's flush (``StreamConnection/sendSoon(_:refusingAbove:)``)
/// should be written at once instead: sans-I/O, fed with the time of each send.
///
/// Handing bytes to the loop costs a thread wake-up (tens of microseconds on a virtual
/// machine), so a lone message, the first ones of a burst, and the messages of a steady
/// stream are written by the sender itself: lowest latency, nothing to gain by waiting. A send
/// is left to the loop's flush only inside a burst (sends less than ``burstGap`` apart) that
/// has lasted ``coalesceAfter`` or longer, and only when it follows the previous send by less
/// than ``rapidGap``: the producer is then far faster than one `send(2)` per message, its
/// messages already queue behind each other, and the loop writes all of them in one system
/// call per turn while the producer goes on producing. (A connection with a flush already
/// scheduled, a writer busy or a full socket queues in any case.)
package struct WriteCoalescing: Sendable {
    /// Sends closer together than this belong to one burst (a producer preempted for a moment
    /// stays in its burst).
    package static let burstGap: Duration = .microseconds(200)
    /// A burst is coalesced once it has lasted this long.
    package static let coalesceAfter: Duration = .microseconds(100)
    /// Only a send this close behind the previous one waits for the loop: a steady stream
    /// (5,000 or 10,000 messages a second) is written at once, message by message.
    package static let rapidGap: Duration = .microseconds(20)

    private var burstStart: ContinuousClock.Instant?
    private var lastSend: ContinuousClock.Instant?

    package init() {}

    /// Records a send at `now`; true when it should wait for the loop's flush.
    package mutating func defersSend(at now: ContinuousClock.Instant) -> Bool {
        defer { lastSend = now }
        guard let lastSend, let burstStart, now - lastSend < Self.burstGap else {
            burstStart = now
            return false
        }
        return now - burstStart >= Self.coalesceAfter && now - lastSend < Self.rapidGap
    }
}
