import ConnectionCore
import Foundation
import SensorHub
import SensorStream
import SensorWire
import TestSupport
import WebSocketCore

/// What compression and TLS cost and save on the sensor message stream.
///
/// - Bytes on the wire per reading, from the hub's own encoder and a server-role WebSocket
///   session (sans-I/O, exact): uncompressed, permessage-deflate with context takeover, and
///   without it.
/// - Readings per second end to end (hub -> loopback -> SensorClient -> `for await`, one
///   process, the hub on its own loop) for: compression not offered, offered and declined
///   (the default client against the default hub), compressed, and the same over TLS when
///   the build has the TLS trait.
enum WireCost {
    /// One simulated sensor's reading number `index`, shaped like `sensorctl hub --simulate-agents`'s.
    static func reading(_ index: Int) -> JSONValue {
        .object(["temperature": .number(20 + Double((index * 37) % 500) / 100),
                 "humidity": .number(50 + Double((index * 53) % 90) / 10),
                 "seq": .number(Double(index))])
    }

    /// Bytes a hub sends for `count` readings (of `sensors` sensors in turn) with `deflate`.
    static func frameBytes(count: Int, sensors: Int, deflate: PerMessageDeflate?) -> Int {
        var session = WebSocketSession(role: .server, deflate: deflate)
        var total = 0
        for index in 0..<count {
            let text = ServerMessage.sensorData(sensorID: "A01-S\(index % sensors + 1)", readings: reading(index)).encodedText
            try? session.sendText(text)
            total += session.takePendingOutput().count
        }
        return total
    }

    /// One end-to-end variant.
    struct Variant: Sendable {
        var label: String
        var clientOffers: Bool
        var hubAccepts: Bool
        var tls: Bool
        var level = 6
    }

    static let variants: [Variant] = [
        Variant(label: "not offered", clientOffers: false, hubAccepts: false, tls: false),
        Variant(label: "offered, declined", clientOffers: true, hubAccepts: false, tls: false),
        Variant(label: "compressed", clientOffers: true, hubAccepts: true, tls: false),
        Variant(label: "compressed, level 1", clientOffers: true, hubAccepts: true, tls: false, level: 1),
        Variant(label: "TLS", clientOffers: false, hubAccepts: false, tls: true),
        Variant(label: "TLS + compressed", clientOffers: true, hubAccepts: true, tls: true),
    ]

    /// Readings per second delivered for `variant`, `count` readings published in batches of `batch`.
    static func throughput(_ variant: Variant, count: Int, batch: Int) async throws -> Double {
        var context: TLSServerContext?
        var clientTLS: TLSConfiguration?
        if variant.tls {
            let certificates = try TestCertificates.shared()
            context = try TLSServerContext(TLSServerConfiguration(certificateChainFile: certificates.serverCertificateFile,
                                                                  privateKeyFile: certificates.serverKeyFile))
            clientTLS = TLSConfiguration(trustedCertificatesFile: certificates.caFile)
        }
        let hub = try Hub(maxBacklog: 64 << 20, deflate: variant.hubAccepts ? PerMessageDeflateConfiguration(level: variant.level) : nil,
                          tls: context, group: EndToEnd.hubLoops)
        let client = SensorClient(host: "localhost", port: hub.port,
                                  configuration: .init(heartbeat: .disabled, readingBufferSize: count,
                                                       compression: variant.clientOffers ? .init() : .disabled, tls: clientTLS))
        return try await EndToEnd.measure(hub: hub, client: client, count: count, batch: batch, reading: reading)
    }

    static func report(samples: Int) async throws {
        let count = 20_000
        let plain = frameBytes(count: count, sensors: 6, deflate: nil)
        let takeover = frameBytes(count: count, sensors: 6, deflate: PerMessageDeflate(parameters: .init(), isServer: true, configuration: .init()))
        let alone = frameBytes(count: count, sensors: 6, deflate: PerMessageDeflate(
            parameters: .init(serverNoContextTakeover: true), isServer: true, configuration: .init()))
        let fast = frameBytes(count: count, sensors: 6, deflate: PerMessageDeflate(parameters: .init(), isServer: true, configuration: .init(level: 1)))
        print(String(format: "wire: bytes per reading (6 sensors, hub frames)  uncompressed %.1f, deflate %.1f (%.0f%%), level 1 %.1f (%.0f%%), without context takeover %.1f (%.0f%%)",
                     Double(plain) / Double(count), Double(takeover) / Double(count), 100 * Double(takeover) / Double(plain),
                     Double(fast) / Double(count), 100 * Double(fast) / Double(plain),
                     Double(alone) / Double(count), 100 * Double(alone) / Double(plain)))
        for batch in [64, 1] {
            for variant in variants where !variant.tls || TLSConfiguration.isAvailable {
                _ = try await throughput(variant, count: 20_000, batch: batch)  // warm-up
                var rates: [Double] = []
                for _ in 0..<samples { rates.append(try await throughput(variant, count: 100_000, batch: batch)) }
                rates.sort()
                print("wire: end to end, batches of \(batch), ".padding(toLength: 36, withPad: " ", startingAt: 0)
                      + variant.label.padding(toLength: 20, withPad: " ", startingAt: 0)
                      + String(format: "%.2f M readings/s [%.2f ... %.2f]", rates[rates.count / 2] / 1e6, rates.first! / 1e6, rates.last! / 1e6))
            }
        }
        if !TLSConfiguration.isAvailable { print("wire: TLS rows skipped: build with --traits TLS") }
    }
}
