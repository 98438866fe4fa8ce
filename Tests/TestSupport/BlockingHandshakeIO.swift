import Foundation
import Locking
import TCPTransport
import WebSocketCore

/// A flag a task's cancellation handler sets and an I/O thread polls.
package final class CancellationFlag: Sendable {
    private let flag = LockedValue(false)
    package func set() { flag.withLock { $0 = true } }
    package var isSet: Bool { flag.withLock { $0 } }
}

/// Blocking handshake I/O on a non-blocking socket, bounded by a deadline: for raw test peers
/// that play one side of a handshake by hand (the library runs handshakes on its event loop).
package enum HandshakeIO {
    package enum Failure: Error {
        case timedOut
        case cancelled
        case socket(SocketError)
        case closed
        case head(HTTPHeadError)
    }

    /// Writes all of `bytes` before `deadline`.
    package static func writeAll(_ bytes: [UInt8], to socket: Socket, deadline: ContinuousClock.Instant,
                         cancellation: CancellationFlag?) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let result: Socket.IOResult
            let attempt = bytes.withUnsafeBytes { buffer in
                Result { () throws(SocketError) in try socket.write(UnsafeRawBufferPointer(rebasing: buffer[offset...])) }
            }
            do { result = try attempt.get() } catch { throw .socket(error) }
            switch result {
            case .bytes(let count): offset += count
            case .wouldBlock, .endOfFile: try wait(for: .writable, on: socket, deadline: deadline, cancellation: cancellation)
            }
        }
    }

    /// Reads until `reader` has a complete head, before `deadline`.
    package static func readHead(from socket: Socket, maxSize: Int, deadline: ContinuousClock.Instant,
                         cancellation: CancellationFlag?) throws(Failure) -> (head: HTTPHead, rest: [UInt8]) {
        var reader = HTTPHeadReader(maxSize: maxSize)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let result: Socket.IOResult
            let attempt = buffer.withUnsafeMutableBytes { bytes in
                Result { () throws(SocketError) in try socket.read(into: bytes) }
            }
            do { result = try attempt.get() } catch { throw .socket(error) }
            switch result {
            case .bytes(let count):
                let appended = buffer.withUnsafeBytes { bytes in
                    Result { () throws(HTTPHeadError) in try reader.append(UnsafeRawBufferPointer(rebasing: bytes[..<count])) }
                }
                do {
                    if let complete = try appended.get() { return complete }
                } catch {
                    throw .head(error)
                }
            case .wouldBlock:
                try wait(for: .readable, on: socket, deadline: deadline, cancellation: cancellation)
            case .endOfFile:
                throw .closed
            }
        }
    }

    private static func wait(for events: PollEvents, on socket: Socket, deadline: ContinuousClock.Instant,
                             cancellation: CancellationFlag?) throws(Failure) {
        while true {
            if cancellation?.isSet == true { throw .cancelled }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { throw .timedOut }
            let ready: [PollEvents]
            do {
                ready = try pollDescriptors([(socket.descriptor, events)], timeoutMilliseconds: min(remaining, .milliseconds(100)).milliseconds)
            } catch {
                throw .socket(error)
            }
            if !ready[0].isEmpty { return }
        }
    }
}
