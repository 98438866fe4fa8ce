/// A consumer that takes a connection's messages on the loop thread, synchronously, as the
/// codec completes them (see ``StreamConnection/receiveInline(limit:_:)``): a message reaches
/// it without the hop through a waiting task, which is what a reading's latency is made of at
/// low rates.
///
/// The task that installed it stays suspended meanwhile; it is resumed when the handler hands
/// messages back (it took only a prefix of a batch), when the inbox reaches its end, or when
/// the task is cancelled. Then the task takes what is queued itself, as ``StreamConnection/receiveBatch(limit:)``
/// does, and may install it again.
struct InlineReceiver: Sendable {
    /// Given the messages completed since the last call (at least one, in order), returns how
    /// many of them it took: a prefix. The rest go back to the waiting task.
    typealias Handler = @Sendable ([any Sendable]) -> Int
    /// The installing task: resumed with the messages handed back (maybe none), or nil at the
    /// end of the messages or on cancellation.
    typealias Waiter = CheckedContinuation<[any Sendable]?, Never>

    /// Identifies it for its task's cancellation.
    let id: UInt64
    /// At most this many messages per call.
    let limit: Int
    /// Takes the messages on the loop thread.
    let handler: Handler
    /// The installing task, suspended while the receiver is installed.
    let waiter: Waiter
    /// The handler runs now (on the loop thread, outside the lock).
    var running = false
    /// Its task was cancelled while the handler ran: it is resumed when the handler returns.
    var cancelled = false
}
