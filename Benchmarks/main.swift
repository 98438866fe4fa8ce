// SensorStream benchmarks: `swift run -c release SensorStreamBenchmarks [filter] [--samples N]`.
// Inputs are generated from fixed seeds and fed in 16 KiB chunks, as a socket read would
// deliver them (each chunk is copied into a read buffer first, like recv does).
import Foundation
import SensorStream
import TestSupport
import WebSocketCore

let chunkSize = 16 * 1024

/// Feeds `stream` in 16 KiB chunks through a frame decoder and a message assembler (full
/// validation: masking rule, UTF-8 ...), touching every message.
func decodeMessages(_ stream: [UInt8], role: FrameDecoder.Role) throws -> Benchmark.Work {
    var decoder = FrameDecoder(role: role, maxFrameSize: 1 << 20)
    var assembler = MessageAssembler(maxMessageSize: 1 << 24)
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
    defer { readBuffer.deallocate() }
    var messages = 0
    var payload = 0
    var checksum = 0
    try stream.withUnsafeBytes { source in
        var offset = 0
        while offset < source.count {
            let count = min(chunkSize, source.count - offset)
            readBuffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            offset += count
            let input = UnsafeMutableRawBufferPointer(rebasing: readBuffer[..<count])
            var cursor = 0
            while let part = try decoder.nextPart(in: input, cursor: &cursor) {
                guard let output = try assembler.consume(part) else { continue }
                switch output {
                case .text(let bytes), .binary(let bytes):
                    messages += 1
                    payload += bytes.count
                    checksum &+= bytes.withUnsafeBytes { Int($0.last ?? 0) }
                case .ping, .pong, .close:
                    checksum &+= 1
                }
            }
        }
    }
    return Benchmark.Work(bytes: stream.count, items: messages, checksum: checksum &+ payload)
}

/// Encodes 1M masked text frames of a sensor message with keys from `keys`.
func encodeClientFrames(keys: inout some MaskingKeySource) -> Benchmark.Work {
    var output: [UInt8] = []
    output.reserveCapacity(160_000_000)
    let payload = Array(envelopes()[0].utf8)
    for _ in 0..<1_000_000 {
        FrameEncoder.append(opcode: .text, payload: payload, maskingKey: keys.nextKey(), to: &output)
    }
    return Benchmark.Work(bytes: output.count, items: 1_000_000, checksum: Int(output.last ?? 0))
}

var filter: String?
var samples = 5
var arguments = Array(CommandLine.arguments.dropFirst())
while let argument = arguments.first {
    arguments.removeFirst()
    if argument == "--samples", let value = arguments.first.flatMap(Int.init) {
        samples = max(1, value)
        arguments.removeFirst()
    } else {
        filter = argument
    }
}

/// Inputs, generated on first use (static lets are lazy), so a filtered run only builds its own.
enum Inputs {
    static let small = Workloads.textFrames(count: 1_000_000, masked: false)
    static let smallMasked = Workloads.textFrames(count: 1_000_000, masked: true)
    static let large = Workloads.binaryFrames(count: 2000, size: 64 * 1024)
    static let fragmented = Workloads.fragmentedMessages(count: 200_000)
    static let envelopes: [String] = {
        var generator = SeededGenerator(seed: 4)
        return (0..<200_000).map { Workloads.sensorMessage($0, using: &generator) }
    }()
}
let small = { Inputs.small }
let smallMasked = { Inputs.smallMasked }
let large = { Inputs.large }
let fragmented = { Inputs.fragmented }
let envelopes = { Inputs.envelopes }

let benchmarks: [Benchmark] = [
    Benchmark(name: "parse: 1M unmasked text frames ~133 B", itemName: "frames") {
        try decodeMessages(small().bytes, role: .client)
    },
    Benchmark(name: "parse: 1M masked text frames ~133 B", itemName: "frames") {
        try decodeMessages(smallMasked().bytes, role: .server)
    },
    Benchmark(name: "parse: 2,000 binary frames of 64 KiB", itemName: "frames") {
        try decodeMessages(large(), role: .client)
    },
    Benchmark(name: "parse: 200k messages in 3 fragments + pings", itemName: "messages") {
        try decodeMessages(fragmented().bytes, role: .client)
    },
    Benchmark(name: "envelope: decode new_sensor_data", itemName: "messages") {
        var checksum = 0
        var bytes = 0
        for text in envelopes() {
            bytes += text.utf8.count
            if case .sensorData(let id, let readings)? = SensorProtocol.decode(text).flatMap(ServerMessage.init) {
                checksum &+= id.utf8.count &+ (readings["seq"]?.intValue ?? 0)
            }
        }
        return Benchmark.Work(bytes: bytes, items: envelopes().count, checksum: checksum)
    },
    Benchmark(name: "envelope: JSONSerialization (reference)", itemName: "messages") {
        var checksum = 0
        var bytes = 0
        for text in envelopes() {
            bytes += text.utf8.count
            if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
                checksum &+= object.count
            }
        }
        return Benchmark.Work(bytes: bytes, items: envelopes().count, checksum: checksum)
    },
    Benchmark(name: "mask: encode 1M client frames ~133 B (fixed keys)", itemName: "frames") {
        var keys = FixedMaskingKeys([WebSocketMaskingKey(1, 2, 3, 4), WebSocketMaskingKey(5, 6, 7, 8)])
        return encodeClientFrames(keys: &keys)
    },
    Benchmark(name: "mask: encode 1M client frames ~133 B (CSPRNG keys)", itemName: "frames") {
        var keys = SecureRandomMaskingKeys()
        return encodeClientFrames(keys: &keys)
    },
]

runBenchmarks(benchmarks, filter: filter, samples: samples)

if filter.map({ "end-to-end".contains($0) || $0 == "end-to-end" }) ?? true {
    // Loopback, one process: hub -> WebSocket -> SensorClient -> for await.
    var rates: [Double] = []
    _ = try await EndToEnd.throughput(count: 50_000)  // warm-up
    for _ in 0..<samples { rates.append(try await EndToEnd.throughput(count: 200_000)) }
    rates.sort()
    print(String(format: "end-to-end: hub -> client for-await, 200k       %.2f M readings/s [%.2f ... %.2f]",
                 rates[rates.count / 2] / 1e6, rates.first! / 1e6, rates.last! / 1e6))
    let latencies = try await EndToEnd.latency(count: 20_000, rate: 10_000)
    func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    print(String(format: "end-to-end: latency at 10k readings/s          p50 %.0f µs, p99 %.0f µs, max %.0f µs",
                 percentile(0.5), percentile(0.99), latencies.last ?? 0))
    if let peak = peakResidentMiB() { print(String(format: "peak resident memory of the benchmark process   %.0f MiB", peak)) }
}
