/// When a send that may wait for its loop's flush (``StreamConnection/sendSoon(_:refusingAbove:)``)
/// should be written at once instead: sans-I/O, fed with the time of each send.
///
/// Handing bytes to the loop costs a thread wake-up (tens of microseconds on a virtual
/// machine), so a lone message, or the first ones of a burst, are written by the sender
/// itself: lowest latency. A burst (sends less than ``burstGap`` apart) that has gone on for
/// longer than ``coalesceAfter`` is coalesced: its messages already wait behind earlier ones
/// longer than a wake-up takes, and the loop then writes everything queued in one system call
/// per turn, so the sender spends its time producing rather than in `write`.
package struct WriteCoalescing: Sendable {
    /// Sends closer together than this belong to one burst.
    package static let burstGap: Duration = .microseconds(200)
    /// A burst is coalesced once it has lasted this long.
    package static let coalesceAfter: Duration = .microseconds(100)

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
        return now - burstStart >= Self.coalesceAfter
    }
}
