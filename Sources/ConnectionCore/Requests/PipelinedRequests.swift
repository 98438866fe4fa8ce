/// Requests whose answers come back in the order they were sent (a line protocol's commands),
/// pipelined on one connection (sans-I/O).
///
/// Each answer belongs to the oldest request on the wire. A request that timed out or was
/// cancelled keeps its place (its answer will still come and must be skipped) but loses its
/// waiter. After a reconnect nothing of the old connection will be answered: ``reconnected()``
/// returns the requests to send again, in order, for protocols whose requests are idempotent.
///
/// The methods are `@inlinable` so that a client module specializes them for its request and
/// waiter types: called generically across modules, every call looked up generic and tuple
/// metadata at run time (15 % of a pipelined-put benchmark's profile).
package struct PipelinedRequests<Request: Sendable, Waiter: Sendable>: Sendable {
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline let id: UInt64
        @usableFromInline let request: Request
        @usableFromInline var waiter: Waiter?

        @usableFromInline init(id: UInt64, request: Request, waiter: Waiter?) {
            self.id = id
            self.request = request
            self.waiter = waiter
        }
    }

    @usableFromInline var inFlight: [Entry] = []
    @usableFromInline var head = 0
    @usableFromInline var lastID: UInt64 = 0

    @inlinable package init() {}

    /// How many answers are still expected: every request on the wire not answered yet,
    /// abandoned ones included (their answers still come and are skipped).
    @inlinable
    package var expectedAnswers: Int { inFlight.count - head }

    /// Requests sent and not answered that still have a waiter.
    @inlinable
    package var waitingCount: Int { inFlight[head...].filter { $0.waiter != nil }.count }

    /// Records a request just sent; returns its id.
    @inlinable
    package mutating func sent(_ request: Request, _ waiter: Waiter) -> UInt64 {
        lastID += 1
        inFlight.append(Entry(id: lastID, request: request, waiter: waiter))
        return lastID
    }

    /// An answer arrived: it belongs to the oldest request. Returns that request and its
    /// waiter (nil if it was abandoned); nil when no answer was expected (a protocol error).
    @inlinable
    package mutating func answer() -> (request: Request, waiter: Waiter?)? {
        guard head < inFlight.count else { return nil }
        let entry = inFlight[head]
        head += 1
        if head == inFlight.count {
            inFlight.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 && head * 2 >= inFlight.count {
            inFlight.removeFirst(head)
            head = 0
        }
        return (entry.request, entry.waiter)
    }

    /// Takes the waiter of request `id` (timed out or cancelled); its answer will be skipped.
    @inlinable
    package mutating func abandon(id: UInt64) -> Waiter? {
        guard let index = inFlight[head...].firstIndex(where: { $0.id == id }) else { return nil }
        defer { inFlight[index].waiter = nil }
        return inFlight[index].waiter
    }

    /// The connection was replaced: no old answer will come. Returns the requests that still
    /// have a waiter, in order, with their ids (they stay in flight, under the same ids: the
    /// caller sends them again on the new connection); abandoned ones are forgotten.
    @inlinable
    package mutating func reconnected() -> [(id: UInt64, request: Request)] {
        let waiting = inFlight[head...].filter { $0.waiter != nil }
        inFlight = Array(waiting)
        head = 0
        return waiting.map { ($0.id, $0.request) }
    }

    /// Removes every request and returns the waiters (the client is done).
    @inlinable
    package mutating func removeAll() -> [Waiter] {
        defer {
            inFlight.removeAll()
            head = 0
        }
        return inFlight[head...].compactMap(\.waiter)
    }
}
