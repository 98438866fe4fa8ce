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
    private let turn = LockedValue(0)

    /// A group of exactly these loops.
    package init(loops: [EventLoop]) {
        precondition(!loops.isEmpty, "Internal inconsistency: an event loop group needs at least one loop")
        self.loops = loops
    }

    /// The first `count` loops of the process-wide set (at least one), started as needed.
    package static func shared(loops count: Int) -> EventLoopGroup {
        EventLoopGroup(loops: (0..<max(1, count)).map(processLoop))
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

    /// Loop `index` of the process-wide set, started on first use.
    static func processLoop(_ index: Int) -> EventLoop {
        processLoops.withLock { loops in
            while loops.count <= index {
                loops.append(EventLoop(name: loops.isEmpty ? "SensorStream I/O" : "SensorStream I/O \(loops.count)"))
            }
            return loops[index]
        }
    }
}
