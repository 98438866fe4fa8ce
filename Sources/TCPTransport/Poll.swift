#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// What `poll` reported for one descriptor.
package struct PollEvents: OptionSet, Sendable, Hashable {
    package let rawValue: Int16
    package init(rawValue: Int16) { self.rawValue = rawValue }

    package static let readable = PollEvents(rawValue: Int16(POLLIN))
    package static let writable = PollEvents(rawValue: Int16(POLLOUT))
    /// Error or hang-up: a read or write will tell which.
    package static let failure = PollEvents(rawValue: Int16(POLLERR | POLLHUP | POLLNVAL))
}

/// Waits until one of `descriptors` is ready or `timeoutMilliseconds` pass (-1: no limit).
/// Returns the events per descriptor, in order. Retries on EINTR.
package func pollDescriptors(_ descriptors: [(Int32, PollEvents)], timeoutMilliseconds: Int32) throws(SocketError) -> [PollEvents] {
    var entries = descriptors.map { pollfd(fd: $0.0, events: $0.1.rawValue, revents: 0) }
    while true {
        let result = poll(&entries, nfds_t(entries.count), timeoutMilliseconds)
        if result >= 0 { return entries.map { PollEvents(rawValue: $0.revents) } }
        if errno != EINTR { throw .fromErrno(errno, call: "poll") }
    }
}

/// A self-pipe that wakes a thread blocked in `poll`.
package final class WakeupPipe: Sendable {
    package let readDescriptor: Int32
    private let writeDescriptor: Int32

    package init() throws(SocketError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw .fromErrno(errno, call: "pipe") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    /// Makes the next (or current) poll on ``readDescriptor`` return. Never blocks.
    package func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Empties the pipe after a wake-up.
    package func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }

    deinit {
        _ = close(readDescriptor)
        _ = close(writeDescriptor)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, clamped to Int32 for `poll`.
    package var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, total))
    }
}
