import Foundation
import Locking
import TCPTransport

/// A TCP proxy on loopback that sits between a client and a server and breaks the network on
/// command: drop every connection (FIN), reset them (RST), swallow traffic both ways while the
/// sockets stay open (a half-open connection), delay each direction, or cut the next
/// server-to-client WebSocket frame in the middle and close.
///
/// One thread owns all sockets and runs a `poll` loop; commands reach it through a lock and a
/// wake-up pipe. It records when each connection was accepted, so tests can count reconnect
/// attempts.
package final class FaultProxy: Sendable {
    /// The port clients connect to.
    package let port: Int
    private let listener: TCPListener
    private let wakeup: WakeupPipe
    private let control: LockedValue<Control>
    private let finished: LockedValue<Bool>

    private struct Control: Sendable {
        var upstreamPort: Int?
        var blackhole = false
        var swallowedToServer = 0
        var delayToServer = Duration.zero
        var delayToClient = Duration.zero
        var pendingCommands: [Command] = []
        var commandsSent = 0
        var commandsApplied = 0
        var acceptTimes: [ContinuousClock.Instant] = []
        var openConnections = 0
        var stopped = false
    }

    private enum Command: Sendable {
        case dropAll, resetAll, cutNextFrame, releaseHeld
    }

    /// Starts a proxy to `upstreamPort` on 127.0.0.1.
    package init(upstreamPort: Int) throws {
        listener = try TCPListener.bind(host: "127.0.0.1", port: 0)
        port = listener.port
        wakeup = try WakeupPipe()
        control = LockedValue(Control(upstreamPort: upstreamPort))
        finished = LockedValue(false)
        let thread = Thread { [listener, wakeup, control, finished] in
            var loop = ProxyLoop(listener: listener, wakeup: wakeup, control: control)
            loop.run()
            finished.withLock { $0 = true }
        }
        thread.name = "FaultProxy"
        thread.start()
    }

    /// Where new connections are forwarded; nil closes them at once, as if the server behind
    /// the proxy were down.
    package func setUpstreamPort(_ port: Int?) { control.withLock { $0.upstreamPort = port } }

    // Commands return once the proxy thread has applied them.

    /// Closes every proxied connection on both sides (FIN), as a crashing peer would.
    package func dropAll() async { await send(.dropAll) }

    /// Makes every byte a delay holds due now, both ways, and forwards it (the delay stays set
    /// for what comes next): a test that must not race a delay against its clock holds the bytes with
    /// a long delay and releases them when it is ready.
    package func releaseHeld() async { await send(.releaseHeld) }

    /// Resets every proxied connection on both sides (RST).
    package func resetAll() async { await send(.resetAll) }

    /// Forwards the next server-to-client frame only up to the middle of its payload, then
    /// closes both sides.
    package func cutNextFrameAndClose() async { await send(.cutNextFrame) }

    /// While on, bytes in both directions are read and discarded; the sockets stay open.
    package func setBlackhole(_ on: Bool) { control.withLock { $0.blackhole = on } }

    /// Holds bytes this long before forwarding them, per direction.
    package func setDelay(toServer: Duration = .zero, toClient: Duration = .zero) {
        control.withLock {
            $0.delayToServer = toServer
            $0.delayToClient = toClient
        }
        wakeup.wake()
    }

    /// Bytes from clients the blackhole swallowed (sent, and never forwarded).
    package var bytesSwallowedToServer: Int { control.withLock { $0.swallowedToServer } }

    /// When each connection was accepted, in order.
    package var acceptTimes: [ContinuousClock.Instant] { control.withLock { $0.acceptTimes } }

    /// Connections accepted so far.
    package var acceptedCount: Int { control.withLock { $0.acceptTimes.count } }

    /// Connections currently proxied.
    package var openConnections: Int { control.withLock { $0.openConnections } }

    /// Stops the proxy and closes everything (waits for its thread).
    package func stop() {
        control.withLock { $0.stopped = true }
        wakeup.wake()
        while !finished.withLock({ $0 }) { usleep(1_000) }
        listener.socket.close()
    }

    /// Hands `command` to the proxy thread and returns once it is applied (polling, so that
    /// no thread of the cooperative pool is blocked meanwhile).
    private func send(_ command: Command) async {
        let ticket = control.withLock { control in
            control.pendingCommands.append(command)
            control.commandsSent += 1
            return control.commandsSent
        }
        wakeup.wake()
        while control.withLock({ $0.commandsApplied < ticket && !$0.stopped }) {
            try? await Task.sleep(for: .microseconds(200))
        }
    }

    /// The proxy thread: owns the sockets, not shared.
    private struct ProxyLoop {
        let listener: TCPListener
        let wakeup: WakeupPipe
        let control: LockedValue<Control>
        var pairs: [Pair] = []

        init(listener: TCPListener, wakeup: WakeupPipe, control: LockedValue<Control>) {
            self.listener = listener
            self.wakeup = wakeup
            self.control = control
        }

        mutating func run() {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let (commands, stopped) = control.withLock { control in
                    defer { control.pendingCommands.removeAll() }
                    return (control.pendingCommands, control.stopped)
                }
                if stopped { break }
                for command in commands { apply(command) }
                if !commands.isEmpty { control.withLock { $0.commandsApplied += commands.count } }

                let now = ContinuousClock.now
                var descriptors: [(Int32, PollEvents)] = [(listener.socket.descriptor, .readable), (wakeup.readDescriptor, .readable)]
                var nextRelease: ContinuousClock.Instant?
                for pair in pairs {
                    for side in [pair.client, pair.server] {
                        var events: PollEvents = .readable
                        if let release = side.queue.first?.release {
                            if release <= now { events.insert(.writable) } else { nextRelease = min(nextRelease ?? release, release) }
                        }
                        descriptors.append((side.socket.descriptor, events))
                    }
                }
                let timeout: Int32 = nextRelease.map { Int32(min(200, max(1, now.duration(to: $0).milliseconds))) } ?? 200
                guard let ready = try? pollDescriptors(descriptors, timeoutMilliseconds: timeout) else { break }
                if !ready[1].isEmpty { wakeup.drain() }
                let polled = pairs
                if !ready[0].isEmpty { acceptAll() }

                var index = 2
                for pair in polled {
                    for (side, other, toServer) in [(pair.client, pair.server, true), (pair.server, pair.client, false)] {
                        let events = ready[index]
                        index += 1
                        guard !pair.isClosed else { continue }
                        if events.contains(.readable) || events.contains(.failure) {
                            read(side, into: other, pair: pair, toServer: toServer, buffer: &buffer)
                        }
                        if !pair.isClosed { flush(side, pair: pair) }
                    }
                }
                pairs.removeAll { $0.isClosed }
                let open = pairs.count
                control.withLock { $0.openConnections = open }
            }
            for pair in pairs { pair.close(reset: false) }
        }

        mutating func acceptAll() {
            while let client = try? listener.accept() {
                let upstreamPort = control.withLock { control in
                    control.acceptTimes.append(.now)
                    return control.upstreamPort
                }
                guard let upstreamPort, let server = try? TCPConnector.connect(host: "127.0.0.1", port: upstreamPort, timeout: .seconds(2)) else {
                    client.close()
                    continue
                }
                pairs.append(Pair(client: Side(socket: client), server: Side(socket: server)))
            }
        }

        func apply(_ command: Command) {
            for pair in pairs {
                switch command {
                case .dropAll: pair.close(reset: false)
                case .resetAll: pair.close(reset: true)
                case .cutNextFrame: pair.cutRequested = true
                case .releaseHeld:
                    // Due now: what a partial write leaves goes out on the next turns.
                    for side in [pair.client, pair.server] {
                        let now = ContinuousClock.now
                        for index in side.queue.indices { side.queue[index].release = now }
                        flush(side, pair: pair)
                    }
                }
            }
        }

        /// Reads what `side` sent and queues it for `other` (or swallows it).
        func read(_ side: Side, into other: Side, pair: Pair, toServer: Bool, buffer: inout [UInt8]) {
            let result = buffer.withUnsafeMutableBytes { try? side.socket.read(into: $0) }
            switch result {
            case .bytes(let count)?:
                // The settings as they are now, not as they were when poll started waiting.
                let settings = control.withLock { $0 }
                if settings.blackhole {
                    if toServer { control.withLock { $0.swallowedToServer += count } }
                    return
                }
                var bytes = Array(buffer[..<count])
                var closeAfter = false
                if !toServer {
                    let cut = pair.tracker.consume(bytes, cutRequested: pair.cutRequested)
                    if let cut {
                        bytes = Array(bytes[..<cut])
                        closeAfter = true
                    }
                }
                let delay = toServer ? settings.delayToServer : settings.delayToClient
                other.queue.append((ContinuousClock.now + delay, bytes))
                if closeAfter {
                    flush(other, pair: pair, force: true)
                    pair.close(reset: false)
                }
            case .wouldBlock?:
                break
            case .endOfFile?, nil:
                // One side left: the proxy leaves too, after forwarding what it already holds.
                flush(other, pair: pair, force: true)
                pair.close(reset: false)
            }
        }

        /// Writes the queued bytes whose time has come (all of them if `force`).
        func flush(_ side: Side, pair: Pair, force: Bool = false) {
            while let (release, bytes) = side.queue.first, force || release <= .now {
                var offset = 0
                while offset < bytes.count {
                    let result = bytes.withUnsafeBytes { try? side.socket.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
                    guard case .bytes(let count)? = result else { break }
                    offset += count
                }
                if offset < bytes.count {
                    side.queue[0].bytes = Array(bytes[offset...])
                    return
                }
                side.queue.removeFirst()
            }
        }
    }

    /// One end of a proxied connection and the bytes waiting to be written to it.
    private final class Side {
        let socket: Socket
        var queue: [(release: ContinuousClock.Instant, bytes: [UInt8])] = []
        init(socket: Socket) { self.socket = socket }
    }

    private final class Pair {
        let client: Side
        let server: Side
        var tracker = FrameBoundaryTracker()
        var cutRequested = false
        private(set) var isClosed = false

        init(client: Side, server: Side) {
            self.client = client
            self.server = server
        }

        func close(reset: Bool) {
            guard !isClosed else { return }
            isClosed = true
            for side in [client, server] {
                if reset { side.socket.abort() } else { side.socket.close() }
            }
        }
    }
}

/// Follows the server-to-client byte stream (an HTTP head, then unmasked or masked frames)
/// to find where a frame's payload is half sent.
struct FrameBoundaryTracker {
    private var headMatched = 0
    private var inHead = true
    private var header: [UInt8] = []
    private var payloadRemaining = 0
    private var payloadLength = 0

    /// Advances over `bytes`. If `cutRequested`, returns the offset in `bytes` that falls in the
    /// middle of a frame's payload (the first frame with at least 2 payload bytes starting in
    /// this chunk), or nil if none does.
    mutating func consume(_ bytes: [UInt8], cutRequested: Bool) -> Int? {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inHead {
                let expected: [UInt8] = [13, 10, 13, 10]
                headMatched = byte == expected[headMatched] ? headMatched + 1 : (byte == 13 ? 1 : 0)
                if headMatched == 4 { inHead = false }
                index += 1
                continue
            }
            if payloadRemaining > 0 {
                if cutRequested && payloadRemaining == payloadLength && payloadLength >= 2 {
                    return index + payloadLength / 2 <= bytes.count ? index + payloadLength / 2 : bytes.count
                }
                let take = min(payloadRemaining, bytes.count - index)
                payloadRemaining -= take
                index += take
                continue
            }
            header.append(byte)
            index += 1
            if let length = Self.payloadLength(of: header) {
                header.removeAll()
                payloadLength = length
                payloadRemaining = length
            }
        }
        return nil
    }

    /// The payload length once `header` is complete (including a masking key), else nil.
    private static func payloadLength(of header: [UInt8]) -> Int? {
        guard header.count >= 2 else { return nil }
        let masked = header[1] & 0x80 != 0
        let short = Int(header[1] & 0x7F)
        let extended = short == 126 ? 2 : short == 127 ? 8 : 0
        let total = 2 + extended + (masked ? 4 : 0)
        guard header.count == total else { return nil }
        var length = short
        if extended > 0 {
            length = 0
            for byte in header[2..<2 + extended] { length = length << 8 | Int(byte) }
        }
        return length
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
