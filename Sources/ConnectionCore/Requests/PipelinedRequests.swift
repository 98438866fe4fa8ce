/// Requests whose answers come back in the order they were sent (a line protocol's commands),
/// pipelined on one connection (sans-I/O).
///
/// Each answer belongs to the oldest request on the wire; a request may stand for several
/// commands sent together (a batch of puts), each answered in turn. A request that timed out or was
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
        /// Answers it is owed.
        @usableFromInline let answers: Int
        /// Answers it got.
        @usableFromInline var answered = 0

        @usableFromInline init(id: UInt64, request: Request, waiter: Waiter?, answers: Int) {
            self.id = id
            self.request = request
            self.waiter = waiter
            self.answers = answers
        }
    }

    @usableFromInline var inFlight: [Entry] = []
    @usableFromInline var head = 0
    @usableFromInline var lastID: UInt64 = 0

    @inlinable package init() {}

    /// How many answers are still expected: those of every request on the wire not answered
    /// yet, abandoned ones included (their answers still come and are skipped).
    @inlinable
    package var expectedAnswers: Int { inFlight[head...].reduce(0) { $0 + $1.answers - $1.answered } }

    /// Requests sent and not answered that still have a waiter.
    @inlinable
    package var waitingCount: Int { inFlight[head...].filter { $0.waiter != nil }.count }

    /// Records a request just sent, owed `answers` answers (its commands); returns its id.
    @inlinable
    package mutating func sent(_ request: Request, _ waiter: Waiter, answers: Int = 1) -> UInt64 {
        precondition(answers >= 1, "a request is answered at least once")
        lastID += 1
        inFlight.append(Entry(id: lastID, request: request, waiter: waiter, answers: answers))
        return lastID
    }

    /// An answer arrived: it belongs to the oldest request. Returns that request and its
    /// waiter (nil if it was abandoned); nil when no answer was expected (a protocol error).
    @inlinable
    package mutating func answer() -> (request: Request, waiter: Waiter?)? {
        answers(upTo: 1).map { ($0.request, $0.waiter) }
    }

    /// `count` answers arrived in a row: the oldest request takes as many as it is still owed
    /// (at most `count`). Returns it, its waiter, and how many it took (at least 1; call again
    /// for the rest); nil when no answer was expected (a protocol error).
    @inlinable
    package mutating func answers(upTo count: Int) -> (request: Request, waiter: Waiter?, taken: Int)? {
        guard head < inFlight.count, count > 0 else { return nil }
        let taken = min(count, inFlight[head].answers - inFlight[head].answered)
        inFlight[head].answered += taken
        let entry = inFlight[head]
        guard entry.answered == entry.answers else { return (entry.request, entry.waiter, taken) }
        head += 1
        if head == inFlight.count {
            inFlight.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 && head * 2 >= inFlight.count {
            inFlight.removeFirst(head)
            head = 0
        }
        return (entry.request, entry.waiter, taken)
    }

    /// Takes the waiter of request `id` (timed out or cancelled); its answer will be skipped.
    @inlinable
    package mutating func abandon(id: UInt64) -> Waiter? {
        guard let index = inFlight[head...].firstIndex(where: { $0.id == id }) else { return nil }
        defer { inFlight[index].waiter = nil }
        return inFlight[index].waiter
    }

    /// The connection was replaced: no old answer will come. Returns the requests that still
    /// have a waiter, in order, with their ids and how many of their commands were answered
    /// already (they stay in flight, under the same ids, owed the rest: the caller sends their
    /// unanswered commands again on the new connection); abandoned ones are forgotten.
    @inlinable
    package mutating func reconnected() -> [(id: UInt64, request: Request, answered: Int)] {
        let waiting = inFlight[head...].filter { $0.waiter != nil }
        inFlight = Array(waiting)
        head = 0
        return waiting.map { ($0.id, $0.request, $0.answered) }
    }

    /// Removes every request and returns the waiters with the answers each was still owed
    /// (the client is done).
    @inlinable
    package mutating func removeAll() -> [(waiter: Waiter, owed: Int)] {
        defer {
            inFlight.removeAll()
            head = 0
        }
        return inFlight[head...].compactMap { entry in entry.waiter.map { ($0, entry.answers - entry.answered) } }
    }
}
