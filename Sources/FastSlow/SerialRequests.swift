/// The client's request line, without sockets or clocks: requests queue in order and go out
/// one at a time; the next leaves when the answer to the one before has arrived. Each call
/// returns the request to write now, if any, for the I/O edge to write after its lock.
///
/// A request whose caller stopped waiting (timed out, cancelled) leaves the queue; if it is
/// already on the wire, the line stays blocked until its answer comes (the answer is then
/// dropped) or the connection ends, so two requests are never in flight at once.
package struct SerialRequests<Waiter: Sendable>: Sendable {
    package struct Entry: Sendable {
        package let id: UInt64
        package let request: FastSlowRequest
        package var waiter: Waiter?
    }

    /// Requests waiting for the line, oldest first.
    package private(set) var queue: [Entry] = []
    /// The request on the wire, and when it left (in the caller's time).
    package private(set) var inFlight: (entry: Entry, sentAt: Duration)?
    /// Whether a connection is up to send on.
    package private(set) var isConnected = false
    private var lastID: UInt64 = 0

    package init() {}

    /// What the arrival of a message means.
    package enum Arrival: Sendable {
        /// The answer to the request in flight: its waiter (nil if abandoned), the request and
        /// answer, the round trip; `next` is to be written now.
        case answered(waiter: Waiter?, request: FastSlowRequest, answer: FastSlowAnswer, roundTrip: Duration, next: FastSlowRequest?)
        /// Nothing was asked, or the message does not answer what was: the connection is to
        /// be dropped (the request in flight then fails with the loss).
        case unexpected(String)
    }

    /// Queues `request`; returns its id and the request to write now (it, when the line is free).
    package mutating func submit(_ request: FastSlowRequest, _ waiter: Waiter, now: Duration) -> (id: UInt64, send: FastSlowRequest?) {
        lastID += 1
        queue.append(Entry(id: lastID, request: request, waiter: waiter))
        return (lastID, startNext(now: now))
    }

    /// A connection is up: the request to write first, if any.
    package mutating func connected(now: Duration) -> FastSlowRequest? {
        isConnected = true
        return startNext(now: now)
    }

    /// A message arrived.
    package mutating func received(_ message: WrapperMessage, now: Duration) -> Arrival {
        guard let (entry, sentAt) = inFlight else { return .unexpected("an answer nobody asked for: \(message)") }
        guard let answer = FastSlowAnswer(message, answering: entry.request) else {
            return .unexpected("\(message) does not answer \(entry.request)")
        }
        inFlight = nil
        return .answered(waiter: entry.waiter, request: entry.request, answer: answer, roundTrip: now - sentAt, next: startNext(now: now))
    }

    /// The connection ended: the request in flight (not re-sent: its waiter is returned to be
    /// failed); queued requests wait for the next connection.
    package mutating func connectionLost() -> Entry? {
        isConnected = false
        defer { inFlight = nil }
        return inFlight?.entry
    }

    /// The caller of `id` stopped waiting: its waiter, if it still had one. A queued request
    /// leaves the queue; one in flight keeps the line until its answer.
    package mutating func abandon(id: UInt64) -> Waiter? {
        if let index = queue.firstIndex(where: { $0.id == id }) {
            return queue.remove(at: index).waiter
        }
        guard inFlight?.entry.id == id else { return nil }
        defer { inFlight?.entry.waiter = nil }
        return inFlight?.entry.waiter
    }

    /// Whether `id` is queued or in flight.
    package func isOutstanding(id: UInt64) -> Bool {
        inFlight?.entry.id == id || queue.contains { $0.id == id }
    }

    /// When the request in flight left, if it is `id`.
    package func sentAt(id: UInt64) -> Duration? {
        inFlight?.entry.id == id ? inFlight?.sentAt : nil
    }

    /// Takes every waiter (the client closed).
    package mutating func removeAll() -> [Waiter] {
        defer {
            queue = []
            inFlight = nil
        }
        return (inFlight.map { [$0.entry] } ?? []).compactMap(\.waiter) + queue.compactMap(\.waiter)
    }

    private mutating func startNext(now: Duration) -> FastSlowRequest? {
        guard isConnected, inFlight == nil, !queue.isEmpty else { return nil }
        let entry = queue.removeFirst()
        inFlight = (entry, now)
        return entry.request
    }
}
