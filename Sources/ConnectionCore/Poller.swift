#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif
import TCPTransport
#if os(Linux)
import CSystemShims
#endif

/// Waits for readiness of many descriptors at once: the part of an ``EventLoop`` that talks to
/// the kernel. Used by the loop's thread only.
package protocol Poller: AnyObject {
    /// Sets what `descriptor` is watched for; an empty set stops watching it (the descriptor
    /// is then not reported at all, not even for errors, until watched again).
    func setInterest(_ descriptor: Int32, _ interest: PollEvents) throws(SocketError)
    /// Waits at most `timeoutMilliseconds` (-1: no limit) and appends what is ready.
    func wait(timeoutMilliseconds: Int32, into ready: inout [(descriptor: Int32, events: PollEvents)]) throws(SocketError)
}

/// The portable poller: `poll(2)` over every watched descriptor. O(watched) per wait; the loop
/// uses ``EpollPoller`` on Linux and this elsewhere (and in tests, to cover both).
package final class PollPoller: Poller {
    private var interests: [Int32: PollEvents] = [:]
    private var entries: [pollfd] = []

    package init() {}

    package func setInterest(_ descriptor: Int32, _ interest: PollEvents) throws(SocketError) {
        interests[descriptor] = interest.isEmpty ? nil : interest
    }

    package func wait(timeoutMilliseconds: Int32, into ready: inout [(descriptor: Int32, events: PollEvents)]) throws(SocketError) {
        entries.removeAll(keepingCapacity: true)
        for (descriptor, interest) in interests {
            entries.append(pollfd(fd: descriptor, events: interest.rawValue, revents: 0))
        }
        while true {
            let result = poll(&entries, nfds_t(entries.count), timeoutMilliseconds)
            if result >= 0 { break }
            if errno != EINTR { throw .fromErrno(errno, call: "poll") }
        }
        for entry in entries where entry.revents != 0 {
            ready.append((entry.fd, PollEvents(rawValue: entry.revents)))
        }
    }
}

#if os(Linux)
/// The Linux poller: level-triggered epoll, O(ready) per wait, so 10,000 idle connections cost
/// nothing while they are idle.
package final class EpollPoller: Poller {
    private let epoll: Int32
    private var watched: [Int32: PollEvents] = [:]
    private var events: [epoll_event]

    package init(capacity: Int = 256) throws(SocketError) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw .fromErrno(errno, call: "epoll_create1") }
        events = Array(repeating: epoll_event(), count: capacity)
    }

    deinit { _ = close(epoll) }

    package func setInterest(_ descriptor: Int32, _ interest: PollEvents) throws(SocketError) {
        let previous = watched[descriptor]
        if interest.isEmpty {
            guard previous != nil else { return }
            watched[descriptor] = nil
            var event = epoll_event()
            if epoll_ctl(epoll, EPOLL_CTL_DEL, descriptor, &event) != 0 && errno != EBADF && errno != ENOENT {
                throw .fromErrno(errno, call: "epoll_ctl")
            }
            return
        }
        guard previous != interest else { return }
        var event = epoll_event()
        event.events = (interest.contains(.readable) ? EPOLLIN.rawValue : 0) | (interest.contains(.writable) ? EPOLLOUT.rawValue : 0)
        event.data.fd = descriptor
        var result = epoll_ctl(epoll, previous == nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, descriptor, &event)
        if result != 0 && errno == ENOENT {
            // Closed and reopened under the same number without a deregistration: add it anew.
            result = epoll_ctl(epoll, EPOLL_CTL_ADD, descriptor, &event)
        }
        guard result == 0 else {
            watched[descriptor] = nil
            throw .fromErrno(errno, call: "epoll_ctl")
        }
        watched[descriptor] = interest
    }

    package func wait(timeoutMilliseconds: Int32, into ready: inout [(descriptor: Int32, events: PollEvents)]) throws(SocketError) {
        let capacity = Int32(events.count)
        var count: Int32 = 0
        while true {
            count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, capacity, timeoutMilliseconds) }
            if count >= 0 { break }
            if errno != EINTR { throw .fromErrno(errno, call: "epoll_wait") }
        }
        for index in 0..<Int(count) {
            let event = events[index]
            var reported: PollEvents = []
            if event.events & EPOLLIN.rawValue != 0 { reported.insert(.readable) }
            if event.events & EPOLLOUT.rawValue != 0 { reported.insert(.writable) }
            if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { reported.insert(.failure) }
            ready.append((event.data.fd, reported))
        }
    }
}
#endif
