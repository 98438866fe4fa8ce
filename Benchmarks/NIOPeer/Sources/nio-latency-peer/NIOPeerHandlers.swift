import Foundation
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Sends the HTTP/1.1 upgrade request (NIOHTTPClientUpgradeHandler adds the Upgrade, Connection and
/// Sec-WebSocket-* headers) and is removed from the pipeline by the upgrade completion handler.
/// Anything that reaches it means the upgrade did not happen.
final class UpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    static let name = "upgrade-request"

    private let host: String
    private let port: Int
    private let done: EventLoopPromise<Outcome>
    private var timeout: Scheduled<Void>?

    init(host: String, port: Int, done: EventLoopPromise<Outcome>) {
        self.host = host
        self.port = port
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(self.host):\(self.port)")
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        self.timeout = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(10)) {
            self.fail(context: context, PeerError("no WebSocket upgrade within 10 s"))
        }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timeout?.cancel()
        self.timeout = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let response) = self.unwrapInboundIn(data) {
            self.fail(context: context, PeerError("server refused the WebSocket upgrade: HTTP \(response.status.code)"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.fail(context: context, PeerError("during the WebSocket upgrade: \(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(context: context, PeerError("connection closed during the WebSocket upgrade"))
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, _ error: Error) {
        self.timeout?.cancel()
        self.timeout = nil
        self.done.fail(error)  // no-op if already completed
        context.close(promise: nil)
    }
}

/// The reading side: on the event loop, parses each text frame with JSONSerialization, records
/// `now - sent` in µs and checks that `seq` runs 0, 1, 2, ...
final class LatencyHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private static let subscribe = #"{"event":"subscribe_sensor","data":{"sensor_id":"S1"}}"#
    private static let idleLimit = TimeAmount.seconds(10)

    private let count: Int
    private let done: EventLoopPromise<Outcome>
    private var latencies: [Double]
    private var outOfOrder = 0
    private var fragments: ByteBuffer?
    private var finished = false
    private var watchdog: Scheduled<Void>?

    init(count: Int, done: EventLoopPromise<Outcome>) {
        self.count = count
        self.done = done
        self.latencies = []
        self.latencies.reserveCapacity(count)
    }

    // Added by the upgrader once the upgrade completed: the channel is active, subscribe now.
    func handlerAdded(context: ChannelHandlerContext) {
        let payload = context.channel.allocator.buffer(string: Self.subscribe)
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: payload)
        context.writeAndFlush(self.wrapOutboundOut(frame), promise: nil)
        self.armWatchdog(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.watchdog?.cancel()
        self.watchdog = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            if frame.fin {
                self.message(context: context, frame.unmaskedData)
            } else {
                self.fragments = frame.unmaskedData
            }
        case .continuation:
            guard var message = self.fragments else {
                self.fail(context: context, PeerError("continuation frame without a started message"))
                return
            }
            var part = frame.unmaskedData
            message.writeBuffer(&part)
            if frame.fin {
                self.fragments = nil
                self.message(context: context, message)
            } else {
                self.fragments = message
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(self.wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            self.fail(context: context, PeerError("server closed the WebSocket after \(self.latencies.count) of \(self.count) frames"))
        default:
            self.fail(context: context, PeerError("unexpected frame with opcode \(frame.opcode)"))
        }
    }

    private func message(context: ChannelHandlerContext, _ payload: ByteBuffer) {
        guard !self.finished else { return }
        let sent: Double
        let seq: Int
        do {
            let json = try JSONSerialization.jsonObject(with: Data(payload.readableBytesView))
            guard let root = json as? [String: Any] else {
                throw PeerError("not a JSON object")
            }
            // Anything but sensor data (an acknowledgement, say) is not a sample.
            guard root["event"] as? String == "new_sensor_data" else { return }
            guard let data = root["data"] as? [String: Any],
                  let readings = data["sensor_readings"] as? [String: Any],
                  let sentNumber = readings["sent"] as? NSNumber,
                  let seqNumber = readings["seq"] as? NSNumber
            else {
                throw PeerError("no data.sensor_readings.sent/seq")
            }
            sent = sentNumber.doubleValue
            seq = seqNumber.intValue
        } catch {
            self.fail(context: context, PeerError("bad message \(String(buffer: payload)): \(error)"))
            return
        }
        let now = monotonicMicros()

        if seq != self.latencies.count {
            self.outOfOrder += 1
        }
        self.latencies.append(now - sent)
        if self.latencies.count == self.count {
            self.finish(context: context)
        }
    }

    private func finish(context: ChannelHandlerContext) {
        self.finished = true
        self.watchdog?.cancel()
        self.watchdog = nil
        self.done.succeed(Outcome(latencies: self.latencies, outOfOrder: self.outOfOrder))
        // Say goodbye with a close frame (1000), then close the TCP connection.
        var code = context.channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .normalClosure)
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code)
        context.writeAndFlush(self.wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.fail(context: context, error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.finished {
            self.fail(context: context, PeerError("connection closed after \(self.latencies.count) of \(self.count) frames"))
        }
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, _ error: Error) {
        guard !self.finished else { return }
        self.finished = true
        self.watchdog?.cancel()
        self.watchdog = nil
        self.done.fail(error)
        context.close(promise: nil)
    }

    /// Fails the run if no frame arrived for `idleLimit`, so that a stuck server cannot hang the benchmark.
    private func armWatchdog(context: ChannelHandlerContext) {
        let seen = self.latencies.count
        self.watchdog = context.eventLoop.assumeIsolated().scheduleTask(in: Self.idleLimit) {
            guard !self.finished else { return }
            if self.latencies.count == seen {
                self.fail(context: context, PeerError("no frame for 10 s after \(seen) of \(self.count) frames"))
            } else {
                self.armWatchdog(context: context)
            }
        }
    }
}
