/// Where a ``StreamConnection`` is in its life: handshaking -> open -> closing -> finished.
///
/// It only moves forward. A step may be skipped (a connection without TLS or a handshake
/// starts open; a refused handshake goes straight to closing), a case may be replaced by a
/// later version of itself (a deadline set, a drop made a reset), but no step is ever taken
/// back: ``StreamConnectionState`` changes it only through ``advance(to:)``, which traps on a
/// step back (a bug in the connection, never something a peer can cause).
package enum StreamLifecycle: Sendable {
    /// TLS (when the connection uses it), then the protocol's handshake (an HTTP upgrade),
    /// are running: received bytes go to them, the codec sees nothing yet, no message can be
    /// sent. The connection's `onReady` is told how it ends.
    case handshaking(Handshaking)
    /// The handshake completed (or there was none): messages go both ways. A close this side
    /// started (``StreamConnection/startClosing(_:)``) waits here for the codec to finish it,
    /// until ``Open/closeDeadline``.
    case open(Open)
    /// The connection is ending for the reason in ``Closing/cause``; the loop finishes it as
    /// soon as that reason allows (see ``Closing/Cause``).
    case closing(Closing)
    /// The socket is closed and everyone waiting was told. `closure` is how the connection
    /// ended, in the codec's words (a WebSocket close code ...). Final.
    case finished(closure: any Sendable)

    /// The handshake's step.
    package struct Handshaking: Sendable {
        /// The protocol's handshake, still running; nil when none is left to run and only TLS
        /// is being established.
        var handshake: (any StreamHandshake)?
        /// When the handshake fails as timed out (TLS included); nil without a limit.
        var deadline: ContinuousClock.Instant?
    }

    /// The open step.
    package struct Open: Sendable {
        /// This side started closing (a close frame, a FIN to come): when the connection is
        /// dropped if the codec has not finished the close by then.
        var closeDeadline: ContinuousClock.Instant?
    }

    /// The closing step.
    package struct Closing: Sendable {
        /// Why the connection is ending, and so what it still does.
        package enum Cause: Sendable, Equatable {
            /// The handshake was refused: its reply (an HTTP 400 ...) is written, nothing is
            /// read, and the connection finishes once the reply is out.
            case refused
            /// The codec's conversation is over (both closes exchanged, or an error's close
            /// sent): the last output is written; then this side closes TCP, or waits for the
            /// peer to (a WebSocket client), until ``Closing/deadline``.
            case protocolClosed
            /// Dropped: an abort, a deadline, the peer's end of input, a socket error. The
            /// connection finishes at the loop's next look (once a writer using the socket is
            /// back); `reset` closes it with a TCP reset instead of a FIN.
            case dropped(reset: Bool)
        }

        /// Why it is ending.
        var cause: Cause
        /// Whether the handshake had completed: messages may still be queued (and are
        /// discarded when it finishes), as while open.
        let handshakeCompleted: Bool
        /// Why the handshake failed, for `onReady`; nil when it completed.
        let handshakeFailure: ConnectFailure?
        /// When the connection is dropped if it has not finished by then.
        var deadline: ContinuousClock.Instant?
    }

    /// The step's place in the order: each step's number is larger than the one before.
    private var rank: Int {
        switch self {
        case .handshaking: 0
        case .open: 1
        case .closing(let closing):
            switch closing.cause {
            case .refused, .protocolClosed: 2
            case .dropped(reset: false): 3
            case .dropped(reset: true): 4
            }
        case .finished: 5
        }
    }

    /// Whether `next` may follow `self`: a later step, or the same step updated. Every step of
    /// closing keeps whether the handshake completed; a refused close only becomes a drop, and a
    /// conversation over only a drop (its deadline passed, the socket failed).
    package func allows(_ next: StreamLifecycle) -> Bool {
        if case .finished = self { return false }
        guard next.rank >= rank else { return false }
        switch (self, next) {
        case (.closing(let current), .closing(let following)):
            // What the handshake did is kept; only a handshake that never completed may
            // learn (or change) why it failed: the opener gave up while its refusal was written.
            guard current.handshakeCompleted == following.handshakeCompleted,
                  !following.handshakeCompleted || following.handshakeFailure == nil else { return false }
            if case .dropped = following.cause { return true }
            return current.cause == following.cause
        case (.handshaking, .closing(let following)):
            return !following.handshakeCompleted && following.cause != .protocolClosed
        case (.open, .closing(let following)):
            return following.handshakeCompleted && following.handshakeFailure == nil && following.cause != .refused
        case (.handshaking, .finished), (.open, .finished):
            // A connection finishes only through closing: something must have said why.
            return false
        default:
            return true
        }
    }

    /// Moves to `next`. Traps when `next` would be a step back (see ``allows(_:)``).
    package mutating func advance(to next: StreamLifecycle) {
        precondition(allows(next), "StreamLifecycle: \(name) cannot become \(next.name)")
        self = next
    }

    /// The step's name, for trap messages and logs.
    package var name: String {
        switch self {
        case .handshaking: "handshaking"
        case .open: "open"
        case .closing(let closing):
            switch closing.cause {
            case .refused: "closing (refused)"
            case .protocolClosed: "closing (protocol closed)"
            case .dropped(let reset): reset ? "closing (dropped, reset)" : "closing (dropped)"
            }
        case .finished: "finished"
        }
    }

    /// Whether messages may be queued: open, or closing after an open (they are discarded if
    /// the connection finishes first; the codec refuses them once its close is sent).
    var acceptsMessages: Bool {
        switch self {
        case .open: true
        case .closing(let closing): closing.handshakeCompleted
        case .handshaking, .finished: false
        }
    }

    /// Whether the connection has ended.
    var isFinished: Bool {
        if case .finished = self { true } else { false }
    }
}
