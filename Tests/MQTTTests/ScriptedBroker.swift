import Locking
import TestSupport
@testable import MQTT

/// A broker the test plays packet by packet on loopback: accepts one connection at a time,
/// reads the client's packets (blocking reads on a thread of their own) and writes packets.
struct ScriptedBroker: Sendable {
    let server: RawServer
    var port: Int { server.port }

    init() throws {
        server = try RawServer()
    }

    /// The next client connection.
    func accept() async throws -> BrokerSide {
        let server = server
        return BrokerSide(peer: try await onThread { try server.accept() })
    }

    func close() { server.close() }
}

/// One client connection as the broker sees it.
final class BrokerSide: Sendable {
    let peer: RawPeer
    private let decoder = LockedValue(MQTTPacketDecoder(maximumPacketSize: 1 << 20))

    init(peer: RawPeer) {
        self.peer = peer
    }

    /// The client's next packet; nil at EOF (or after `timeout`).
    func next(timeout: Duration = .seconds(20)) async throws -> MQTTPacket? {
        let (peer, decoder) = (peer, decoder)
        return try await onThread {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let packet = try decoder.withLock({ try $0.next() }) { return packet }
                let bytes = try peer.read(count: 1, timeout: ContinuousClock.now.duration(to: deadline))
                if bytes.isEmpty { return nil }
                decoder.withLock { $0.append(bytes) }
            }
            return nil
        }
    }

    /// The next packet that is not a PINGREQ.
    func nextIgnoringPings(timeout: Duration = .seconds(20)) async throws -> MQTTPacket? {
        while let packet = try await next(timeout: timeout) {
            if packet != .pingReq { return packet }
        }
        return nil
    }

    /// Waits until the client ended the connection (FIN or reset); false if it did not within
    /// `timeout`.
    func ended(timeout: Duration = .seconds(20)) async throws -> Bool {
        let peer = peer
        return try await onThread { peer.waitForEnd(timeout: timeout) != nil }
    }

    /// Writes `packets`.
    func send(_ packets: MQTTPacket...) throws {
        try peer.write(packets.flatMap { try $0.encoded() })
    }

    /// Reads CONNECT and accepts it.
    @discardableResult
    func acceptConnect(sessionPresent: Bool = false) async throws -> MQTTConnect? {
        guard case .connect(let connect)? = try await next() else { return nil }
        try send(.connAck(MQTTConnAck(sessionPresent: sessionPresent, returnCode: .accepted)))
        return connect
    }

    /// Abrupt end: the client sees EOF.
    func drop() { peer.socket.shutdown() }

    func close() { peer.close() }
}
