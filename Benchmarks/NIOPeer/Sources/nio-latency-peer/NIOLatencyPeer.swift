import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// `nio-latency-peer --port P --count N`
///
/// Connects to ws://127.0.0.1:P/ with NIO's HTTP/1.1 client upgrade, subscribes to sensor S1,
/// receives N `new_sensor_data` text frames and prints `p50 <µs> p99 <µs> inorder <true|false>`,
/// where each latency is CLOCK_MONOTONIC(now, right after JSON parsing) - `sent` (server stamp).
@main
struct NIOLatencyPeer {
    static func main() {
        do {
            let (port, count) = try parseArguments(Array(CommandLine.arguments.dropFirst()))
            let outcome = try run(port: port, count: count)
            let sorted = outcome.latencies.sorted()
            let p50 = Int(sorted[sorted.count / 2].rounded())
            let p99 = Int(sorted[sorted.count * 99 / 100].rounded())
            print("p50 \(p50) p99 \(p99) inorder \(outcome.outOfOrder == 0)")
        } catch {
            FileHandle.standardError.write(Data("nio-latency-peer: \(error)\n".utf8))
            exit(1)
        }
    }

    static func parseArguments(_ arguments: [String]) throws -> (port: Int, count: Int) {
        let usage = "usage: nio-latency-peer --port P --count N"
        var port: Int?
        var count: Int?
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard index + 1 < arguments.count, let value = Int(arguments[index + 1]) else {
                throw PeerError("bad or missing value for \(name); \(usage)")
            }
            switch name {
            case "--port": port = value
            case "--count": count = value
            default: throw PeerError("unknown argument \(name); \(usage)")
            }
            index += 2
        }
        guard let port, (1...65535).contains(port), let count, count > 0 else {
            throw PeerError(usage)
        }
        return (port, count)
    }

    static func run(port: Int, count: Int) throws -> Outcome {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let done = group.next().makePromise(of: Outcome.self)

        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketClientUpgrader(
                        maxFrameSize: 1 << 20,
                        automaticErrorHandling: true,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    LatencyHandler(count: count, done: done)
                                )
                            }
                        }
                    )
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(
                                    name: UpgradeRequestHandler.name,
                                    promise: nil
                                )
                            }
                        )
                    )
                    try channel.pipeline.syncOperations.addHandler(
                        UpgradeRequestHandler(host: "127.0.0.1", port: port, done: done),
                        name: UpgradeRequestHandler.name
                    )
                }
            }

        let channel: Channel
        do {
            channel = try bootstrap.connect(host: "127.0.0.1", port: port).wait()
        } catch {
            done.fail(error)
            throw PeerError("cannot connect to 127.0.0.1:\(port): \(error)")
        }
        let outcome: Outcome
        do {
            outcome = try done.futureResult.wait()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        try? channel.closeFuture.wait()
        return outcome
    }
}

/// What the handler hands back once all frames arrived.
struct Outcome: Sendable {
    var latencies: [Double]
    var outOfOrder: Int
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// CLOCK_MONOTONIC in microseconds (absolute), the same clock the server stamps `sent` with.
@inline(__always)
func monotonicMicros() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e6 + Double(ts.tv_nsec) / 1e3
}
