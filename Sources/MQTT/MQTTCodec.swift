import ConnectionCore

/// MQTT 3.1.1 after CONNACK as a codec for the shared connection core: received bytes go
/// through an ``MQTTPacketDecoder``, ``MQTTPacket``s go out encoded. The liveness probe is
/// PINGREQ, answered by PINGRESP (MQTT 3.1.1, 3.12 and 3.13); closing is a DISCONNECT and
/// then closing TCP (3.14), once the output is written.
///
/// Events: one `[MQTTPacket]` per read (the packets it completed, in order), then, if the
/// broker broke the protocol, one ``MQTTPacketError`` and the end of input: nothing after a
/// malformed packet is read (4.8). A PINGRESP is reported as the probe's answer, never as a
/// packet.
package struct MQTTCodec: BufferedTransportCodec, MessageCodec {
    /// The packets one read completed, in order.
    package typealias Inbound = [MQTTPacket]
    /// One packet for the broker.
    package typealias Outbound = MQTTPacket
    /// A malformed or oversized packet ends the stream.
    package typealias Failure = MQTTPacketError

    private var decoder: MQTTPacketDecoder
    package var output: [UInt8] = []
    package var closed = false
    private var failed = false
    /// The probes sent and not answered yet, oldest first (one PINGRESP answers the oldest).
    private var probesInFlight: [UInt64] = []

    /// A codec accepting packets of up to `maximumPacketSize` bytes after the fixed header.
    package init(maximumPacketSize: Int) {
        decoder = MQTTPacketDecoder(maximumPacketSize: maximumPacketSize)
    }

    package mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !closed, !failed else { return }
        decoder.append(UnsafeRawBufferPointer(input))
        var packets: [MQTTPacket] = []
        var failure: MQTTPacketError?
        while true {
            do throws(MQTTPacketError) {
                guard let packet = try decoder.next() else { break }
                if case .pingResp = packet {
                    // What came before the answer is delivered before it.
                    if !packets.isEmpty {
                        events.append(.message(packets, byteCount: input.count))
                        packets = []
                    }
                    if !probesInFlight.isEmpty { events.append(.probeAnswered(probesInFlight.removeFirst())) }
                    continue
                }
                packets.append(packet)
            } catch {
                failure = error
                break
            }
        }
        if !packets.isEmpty { events.append(.message(packets, byteCount: input.count)) }
        if let failure {
            failed = true
            events.append(.failed(failure))
        }
    }

    package mutating func queue(_ packet: MQTTPacket) throws(ConnectionError) {
        guard !closed else { throw .closed }
        do throws(MQTTPacketError) {
            try packet.encode(into: &output)
        } catch {
            throw .rejected(error.description)
        }
    }

    /// Closing sends DISCONNECT first (the broker then discards the will, 3.14.4).
    package mutating func startClose(_ request: any Sendable) {
        guard !closed else { return }
        try? MQTTPacket.disconnect.encode(into: &output)
        closed = true
    }

    /// Queues a PINGREQ; its PINGRESP is reported as ``CodecEvent/probeAnswered(_:)``.
    package mutating func sendProbe(id: UInt64) -> Bool {
        guard !closed, !failed, (try? MQTTPacket.pingReq.encode(into: &output)) != nil else { return false }
        probesInFlight.append(id)
        return true
    }

    package var isReading: Bool { !closed && !failed }
}
