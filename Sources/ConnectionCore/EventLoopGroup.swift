import Foundation
import Locking

/// A fixed set of ``EventLoop``s a server spreads its connections over (SwiftNIO's
/// `MultiThreadedEventLoopGroup`): each accepted connection is pinned to one loop, picked in
/// turn, and lives there until it closes; its state is confined to that loop.
///
/// The loops of ``shared(loops:)`` groups come from one process-wide set that only grows: a
/// group of N is its first N loops, loop 0 is ``EventLoop/shared``, and loops are never
/// stopped. A process that starts servers and clients for a whole test suite therefore has as
/// many loop threads as its largest group, not one set per server.
package final class EventLoopGroup: Sendable {
    /// The loops, in the order ``next()`` hands them out.
    package let loops: [EventLoop]
    private let turn: LockedValue<Int>

    /// A group of exactly these loops; the first connection goes to the first.
    package init(loops: [EventLoop]) {
        precondition(!loops.isEmpty, "Internal inconsistency: an event loop group needs at least one loop")
        self.loops = loops
        turn = LockedValue(0)
    }

    /// The first `count` loops of the process-wide set (at least one), started as needed.
    /// The same group (and so the same turn) for every caller asking for the same count, so
    /// servers sharing loops spread their connections together; the turn starts at loop 1,
    /// since loop 0 also runs the clients of the process.
    package static func shared(loops count: Int) -> EventLoopGroup {
        let count = max(1, count)
        if let group = sharedGroups.withLock({ $0[count] }) { return group }
        let group = EventLoopGroup(loops: (0..<count).map(processLoop), firstTurn: 1)
        return sharedGroups.withLock { groups in
            if let existing = groups[count] { return existing }
            groups[count] = group
            return group
        }
    }

    private static let sharedGroups = LockedValue<[Int: EventLoopGroup]>([:])

    private init(loops: [EventLoop], firstTurn: Int) {
        self.loops = loops
        turn = LockedValue(firstTurn % loops.count)
    }

    /// How many loops a server uses when its configuration does not say: one per active core.
    package static var defaultServerLoopCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// The loop the next connection goes to (round robin).
    package func next() -> EventLoop {
        guard loops.count > 1 else { return loops[0] }
        let index = turn.withLock { turn -> Int in
            defer { turn = (turn + 1) % loops.count }
            return turn
        }
        return loops[index]
    }

    private static let processLoops = LockedValue<[EventLoop]>([])
    /// Held while loops are started, so two callers never start the same loop twice; the
    /// list's own lock is never held across the start (a thread and descriptors are made).
    private static let startingLoops = LockedValue(())

    /// Loop `index` of the process-wide set, started on first use.
    static func processLoop(_ index: Int) -> EventLoop {
        if let loop = processLoops.withLock({ $0.count > index ? $0[index] : nil }) { return loop }
        return startingLoops.withLock { _ in
            var count = processLoops.withLock { $0.count }
            while count <= index {
                let loop = EventLoop(name: count == 0 ? "SensorStream I/O" : "SensorStream I/O \(count)")
                processLoops.withLock { $0.append(loop) }
                count += 1
            }
            return processLoops.withLock { $0[index] }
        }
    }
}
