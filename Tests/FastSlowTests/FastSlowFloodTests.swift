import FastSlow
import Foundation
import Testing
import TestSupport

@Suite("FastSlow server under a flood of requests whose answers are never read", .timeLimit(.minutes(3)))
struct FastSlowFloodTests {
    @Test("250,000 pipelined fast requests from a client that never reads: it is paused, not dropped; another client is answered at once; the flooder gets every answer once it reads")
    func flood() async throws {
        let server = try FastSlowServer(configuration: .init(port: 0))
        defer { server.stop() }
        // About 27 bytes an answer: 6.7 MB, past the server's kernel send buffer (tcp_wmem's
        // 4 MiB at most) plus its 1 MiB high-water mark.
        let count = 250_000
        let flooder = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: server.port, timeout: .seconds(5), receiveBuffer: 4096))
        defer { flooder.close() }
        let request = DelimitedFramer.frame(WrapperMessage.requestForFastResponse.encoded)
        let requests = Array(Array(repeating: request, count: count).joined())
        // Written from a thread of its own: once the server stops reading, the write waits.
        // Its failure is reported, not swallowed: a write cut short explains missing answers.
        let written = Task.detached { () -> String? in
            do {
                try await onThread { try flooder.write(requests, timeout: .seconds(60)) }
                return nil
            } catch {
                return "\(error)"
            }
        }
        let paused = await eventually(timeout: .seconds(30)) { server.connectionBuffers.contains { $0.readingPausedForOutput } }
        #expect(paused, "the flooder's reading never paused for its output")
        // Another client is answered at once, ten times.
        let prober = try FastSlowPeer(port: server.port)
        defer { prober.peer.close() }
        for _ in 0..<10 {
            let answer = try await onThread { () -> WrapperMessage in
                try prober.send(.requestForFastResponse)
                return try prober.receive()
            }
            guard case .fastResponse = answer else {
                Issue.record("the prober got \(answer)")
                return
            }
            // Causal, not a stopwatch: behind the flood it would be answered only after the
            // flooder's answers drained; the flooder is still paused, unread, when it is.
            #expect(server.connectionBuffers.contains { $0.readingPausedForOutput }, "answered while the flood still waits")
        }
        for buffers in server.connectionBuffers {
            #expect(buffers.pendingOutput <= (1 << 20) + (64 << 10), "\(buffers.pendingOutput) bytes of answers wait for one client")
        }
        #expect(server.connectionCount == 2, "the flooder was dropped")
        // Once it reads, every answer arrives, each a fast response.
        let (answers, stop) = try await onThread { () -> (Int, String) in
            var framer = DelimitedFramer()
            var bodies: [[UInt8]] = []
            let deadline = ContinuousClock.now + .seconds(100)
            var stop = "all answers read"
            while bodies.count < count {
                guard ContinuousClock.now < deadline else {
                    stop = "100 s deadline"
                    break
                }
                do {
                    let bytes = try flooder.read(count: 1, timeout: .seconds(10))
                    if bytes.isEmpty {
                        stop = "nothing for 10 s, or the end of the stream"
                        break
                    }
                    try framer.feed(bytes, into: &bodies)
                } catch {
                    stop = "\(error)"
                    break
                }
            }
            let answers = bodies.filter { body in
                if case .fastResponse? = try? WrapperMessage.decode(body) { true } else { false }
            }.count
            return (answers, stop)
        }
        let writeFailure = await written.value
        #expect(writeFailure == nil, "the flooder's write failed: \(writeFailure ?? "")")
        #expect(answers == count, "\(answers) answers; reading stopped: \(stop); server connections: \(server.connectionCount)")
    }
}

