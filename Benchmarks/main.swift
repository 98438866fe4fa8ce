// SensorStream benchmarks: `swift run -c release SensorStreamBenchmarks [filter] [--samples N]`.
// Inputs are generated from fixed seeds and fed in 16 KiB chunks, as a socket read would
// deliver them (each chunk is copied into a read buffer first, like recv does).
import Foundation
import SensorStream
import TestSupport
import ConnectionCore
import WebSocketCore
import WebSocketIO
import SensorWire

let chunkSize = 16 * 1024

/// Hands `stream` to `body` in 16 KiB chunks, each first copied into one read buffer as `recv`
/// would fill it.
func feedInChunks(_ stream: [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
    defer { readBuffer.deallocate() }
    try stream.withUnsafeBytes { source in
        var offset = 0
        while offset < source.count {
            let count = min(chunkSize, source.count - offset)
            readBuffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            offset += count
            try body(UnsafeMutableRawBufferPointer(rebasing: readBuffer[..<count]))
        }
    }
}

/// Feeds `stream` in 16 KiB chunks through a frame decoder and a message assembler (full
/// validation: masking rule, UTF-8 ...), touching every message.
func decodeMessages(_ stream: [UInt8], role: FrameDecoder.Role) throws -> Benchmark.Work {
    var decoder = FrameDecoder(role: role, maxFrameSize: 1 << 20)
    var assembler = MessageAssembler(maxMessageSize: 1 << 24)
    var messages = 0
    var payload = 0
    var checksum = 0
    try feedInChunks(stream) { input in
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

if CommandLine.arguments.dropFirst().first == "--serve-metrics" {
    let options = Array(CommandLine.arguments.dropFirst(2))
    try await MetricStoreBench.serve(loops: options.first.flatMap { Int($0) }, dataFile: options.dropFirst().first)
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "--serve-fastslow" {
    try await FastSlowBench.serve()
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "--serve-hub" {
    try await Connections.serveHub()
    exit(0)
}

if CommandLine.arguments.dropFirst().first == "--serve-fanout" {
    try await FanOut.serve(loops: CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 1)
    exit(0)
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
    static let serverMessages: [ServerMessage] = envelopes.compactMap { ServerMessage.decode($0) }
}
let small = { Inputs.small }
let smallMasked = { Inputs.smallMasked }
let large = { Inputs.large }
let fragmented = { Inputs.fragmented }
let envelopes = { Inputs.envelopes }
let serverMessages = { Inputs.serverMessages }

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
    Benchmark(name: "parse: baseline, a plain copy of those bytes in 16 KiB blocks", itemName: "frames") {
        // The floor for the row above: the same bytes copied once, 16 KiB at a time, into a
        // message-sized buffer, and touched (the row above copies twice: into the read buffer
        // as recv does, then into the message).
        let stream = large()
        var message = [UInt8](repeating: 0, count: 64 * 1024)
        var checksum = 0
        var filled = 0
        stream.withUnsafeBytes { source in
            message.withUnsafeMutableBytes { target in
                var offset = 0
                while offset < source.count {
                    let count = min(chunkSize, source.count - offset, target.count - filled)
                    (target.baseAddress! + filled).copyMemory(from: source.baseAddress! + offset, byteCount: count)
                    offset += count
                    filled = (filled + count) % target.count
                    checksum &+= Int(target[(filled + target.count - 1) % target.count])
                }
            }
        }
        return Benchmark.Work(bytes: stream.count, items: 2000, checksum: checksum)
    },
    Benchmark(name: "parse: 200k messages in 3 fragments + pings", itemName: "messages") {
        try decodeMessages(fragmented().bytes, role: .client)
    },
    Benchmark(name: "core: the same frames through the connection state", itemName: "messages") {
        // What the loop thread does per read, without the socket: codec + inbox + take.
        var state = StreamConnectionState(codec: WebSocketCodec(role: .client, limits: .init()), handshake: nil)
        let configuration = ConnectionConfiguration(inboundBufferLimit: .max)
        var messages = 0
        var checksum = 0
        let stream = small().bytes
        feedInChunks(stream) { input in
            state.process(input, configuration: configuration)
            var wake = false
            for message in state.takeQueuedMessages(limit: .max, configuration: configuration, wake: &wake) {
                messages += 1
                if case .text(let text)? = message as? WebSocketMessage { checksum &+= text.utf8.count }
            }
        }
        return Benchmark.Work(bytes: stream.count, items: messages, checksum: checksum)
    },
    Benchmark(name: "envelope: decode new_sensor_data (one pass)", itemName: "messages") {
        var checksum = 0
        var bytes = 0
        for text in envelopes() {
            bytes += text.utf8.count
            if case .sensorData(let id, let readings)? = ServerMessage.decode(text) {
                checksum &+= id.utf8.count &+ (readings["seq"]?.intValue ?? 0)
            }
        }
        return Benchmark.Work(bytes: bytes, items: envelopes().count, checksum: checksum)
    },
    Benchmark(name: "envelope: decode via the general JSON tree", itemName: "messages") {
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
    Benchmark(name: "envelope: encode new_sensor_data (hub, one pass)", itemName: "messages") {
        var bytes = 0
        for message in serverMessages() { bytes += message.encodedText.utf8.count }
        return Benchmark.Work(bytes: bytes, items: serverMessages().count, checksum: bytes)
    },
    Benchmark(name: "envelope: encode via the envelope tree", itemName: "messages") {
        var bytes = 0
        for message in serverMessages() { bytes += SensorProtocol.encode(message.envelope).utf8.count }
        return Benchmark.Work(bytes: bytes, items: serverMessages().count, checksum: bytes)
    },
    Benchmark(name: "fastslow: encode 1M size-prefixed messages", itemName: "messages") {
        FastSlowBench.encode()
    },
    Benchmark(name: "fastslow: frame + decode 1M messages", itemName: "messages") {
        try FastSlowBench.decode()
    },
    Benchmark(name: "mask: encode 1M client frames ~133 B (fixed keys)", itemName: "frames") {
        var keys = FixedMaskingKeys([WebSocketMaskingKey(1, 2, 3, 4), WebSocketMaskingKey(5, 6, 7, 8)])
        return encodeClientFrames(keys: &keys)
    },
    Benchmark(name: "mask: encode 1M client frames ~133 B (CSPRNG keys)", itemName: "frames") {
        var keys = SecureRandomMaskingKeys()
        return encodeClientFrames(keys: &keys)
    },
] + RangeReads.benchmarks

runBenchmarks(benchmarks, filter: filter, samples: samples)

if filter.map({ "pipeline".contains($0) }) ?? true {
    // The client's receive path in one process, no sockets: where the time goes per stage.
    let stream = Workloads.textFrames(count: 200_000, masked: false).bytes
    for stage in Pipeline.Stage.allCases {
        _ = await Pipeline.run(stage, stream: stream)  // warm-up
        var rates: [Double] = []
        for _ in 0..<samples { rates.append(await Pipeline.run(stage, stream: stream).rate) }
        rates.sort()
        print("pipeline: " + stage.rawValue.padding(toLength: 40, withPad: " ", startingAt: 0)
              + String(format: "%.2f M readings/s [%.2f ... %.2f]", rates[rates.count / 2] / 1e6, rates.first! / 1e6, rates.last! / 1e6))
    }
}

if filter.map({ "client alone".contains($0) }) ?? true {
    // A raw sender thread writes pre-encoded frames; the row measures the client alone.
    let count = 200_000
    for (name, buffering) in [("lossless(1024)", ReadingBuffering.lossless(1024)), ("newest(200,000)", .newest(count))] {
        _ = try await ClientAlone.throughput(count: 20_000, buffering: buffering)  // warm-up
        var rates: [Double] = []
        var cpu: [Double] = []
        for _ in 0..<samples {
            let run = try await ClientAlone.throughput(count: count, buffering: buffering)
            rates.append(run.rate)
            cpu.append(run.cpuPerReading.secondsValue * 1e6)
        }
        rates.sort()
        cpu.sort()
        print("client alone: raw sender -> for-await, \(name)".padding(toLength: 54, withPad: " ", startingAt: 0)
              + String(format: "%.2f M readings/s [%.2f ... %.2f], all %d in order; CPU %.2f µs per reading (all threads)",
                       rates[rates.count / 2] / 1e6, rates.first! / 1e6, rates.last! / 1e6, count, cpu[cpu.count / 2]))
    }
}

if filter.map({ "client latency".contains($0) }) ?? true {
    // A raw sender thread writes one stamped frame every 100 µs; one `for await` loop reads,
    // on the cooperative pool, then on the client's connection executor. With
    // NIO_LATENCY_PEER set (the executable of Benchmarks/NIOPeer), SwiftNIO's WebSocket
    // client with a handler on its event loop reads the same server, alternating with ours.
    let peer = ProcessInfo.processInfo.environment["NIO_LATENCY_PEER"]
    _ = try await PacedLatency.run(count: 2_000, rate: 10_000)  // warm-up
    _ = try await PacedLatency.run(count: 2_000, rate: 10_000, onConnectionExecutor: true)
    if let peer { _ = try await PacedLatency.peer(executable: peer, count: 2_000, rate: 10_000) }
    var pool: (p50: [Double], p99: [Double]) = ([], [])
    var onLoop: (p50: [Double], p99: [Double]) = ([], [])
    var peerLines: [String] = []
    for _ in 0..<samples {
        let latencies = try await PacedLatency.run(count: 20_000, rate: 10_000)
        pool.p50.append(latencies[latencies.count / 2])
        pool.p99.append(latencies[latencies.count * 99 / 100])
        let onExecutor = try await PacedLatency.run(count: 20_000, rate: 10_000, onConnectionExecutor: true)
        onLoop.p50.append(onExecutor[onExecutor.count / 2])
        onLoop.p99.append(onExecutor[onExecutor.count * 99 / 100])
        if let peer { peerLines.append(try await PacedLatency.peer(executable: peer, count: 20_000, rate: 10_000)) }
    }
    for (label, row) in [("for-await", pool), ("for-await on connectionExecutor", onLoop)] {
        let p50 = row.p50.sorted()
        let p99 = row.p99.sorted()
        print("client latency: raw sender at 10k readings/s -> \(label)".padding(toLength: 82, withPad: " ", startingAt: 0)
              + String(format: "p50 %.0f µs [%.0f ... %.0f], p99 %.0f µs [%.0f ... %.0f]",
                       p50[p50.count / 2], p50.first!, p50.last!, p99[p99.count / 2], p99.first!, p99.last!))
    }
    for line in peerLines {
        print("client latency: raw sender at 10k readings/s -> SwiftNIO client, handler on its loop".padding(toLength: 82, withPad: " ", startingAt: 0) + line)
    }
}

if filter.map({ "mqtt receive".contains($0) }) ?? true {
    // MQTT QoS 0 receive through mosquitto: our client beside mosquitto_sub and paho-mqtt.
    try await MQTTReceiveBench.report(count: 1_000_000, samples: min(samples, 3))
}

if filter.map({ "metricstore".contains($0) }) ?? true {
    // Our server and a Python asyncio server, each in its own process, driven by our client.
    let puts = 1_000_000
    let runs = min(samples, 3)
    try await MetricStoreBench.report("our server", executable: CommandLine.arguments[0], arguments: ["--serve-metrics"], puts: puts, samples: runs)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("metricstore_asyncio.py").path
    if let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
        try await MetricStoreBench.report("Python asyncio peer", executable: python, arguments: [script], puts: puts, samples: runs)
    } else {
        print("metricstore: Python asyncio peer skipped (no python3)")
    }
    try await MetricStoreBench.serverShare(executable: CommandLine.arguments[0], puts: puts, samples: runs)
}

if filter.map({ "fastslow".contains($0) }) ?? true {
    // Our server and a Python asyncio server with the reference protobuf, each in its own
    // process, driven by our client.
    let runs = min(samples, 3)
    var floor: [Double] = []
    var floorTrips: [Duration] = []
    for _ in 0..<runs {
        let (rate, trips) = try await FastSlowBench.loopbackFloor(count: 20_000)
        floor.append(rate)
        floorTrips += trips
    }
    floor.sort()
    floorTrips.sort()
    print("fastslow: loopback floor (echo thread)".padding(toLength: 40, withPad: " ", startingAt: 0)
          + String(format: "round trips %.0f /s [%.0f ... %.0f], p50 %.0f µs: bare blocking sockets, no protocol work",
                   floor[floor.count / 2], floor.first!, floor.last!, floorTrips[floorTrips.count / 2].secondsValue * 1e6))
    try await FastSlowBench.report("our server", executable: CommandLine.arguments[0], arguments: ["--serve-fastslow"], samples: runs)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fastslow_asyncio.py").path
    if let python = FastSlowBench.python() {
        try await FastSlowBench.report("Python asyncio + protobuf", executable: python, arguments: [script], samples: runs)
    } else {
        print("fastslow: Python peer skipped: python3 -m venv .build-venv && .build-venv/bin/pip install protobuf (or set FASTSLOW_PYTHON)")
    }
}

if filter.map({ "end-to-end".contains($0) || $0 == "end-to-end" }) ?? true {
    // Loopback, one process: hub -> WebSocket -> SensorClient -> for await.
    for batch in [1, 64] {
        var rates: [Double] = []
        _ = try await EndToEnd.throughput(count: 50_000, batch: batch)  // warm-up
        for _ in 0..<samples { rates.append(try await EndToEnd.throughput(count: 200_000, batch: batch)) }
        rates.sort()
        let label = batch == 1 ? "one reading per publish" : "agent batches of \(batch)"
        print("end-to-end: hub -> client for-await, " + label.padding(toLength: 24, withPad: " ", startingAt: 0)
              + String(format: "%.2f M readings/s [%.2f ... %.2f]", rates[rates.count / 2] / 1e6, rates.first! / 1e6, rates.last! / 1e6))
    }
    let latencies = try await EndToEnd.latency(count: 20_000, rate: 10_000)
    func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    print(String(format: "end-to-end: latency at 10k readings/s          p50 %.0f µs, p99 %.0f µs, max %.0f µs",
                 percentile(0.5), percentile(0.99), latencies.last ?? 0))
    if let peak = peakResidentMiB() { print(String(format: "peak resident memory of the benchmark process   %.0f MiB", peak)) }
}

if filter.map({ "wire".contains($0) || $0 == "tls" || $0 == "compression" }) ?? true {
    // Compression and TLS: bytes per reading, and end-to-end readings/s for each combination.
    try await WireCost.report(samples: samples)
}

if filter.map({ "fan-out".contains($0) }) ?? true {
    // The hub in its own process with 1 and 2 event loops; raw agents and subscribers here.
    try await FanOut.report(samples: min(samples, 3))
}

if filter.map({ "connections".contains($0) }) ?? true {
    // 10,000 idle app connections and 1,000 active subscribers on one hub (its own process).
    let report = try await Connections.run(idle: 10_000, active: 1_000, window: .seconds(3))
    let perConnection = (report.hubRSSIdleMiB - report.hubRSSBaseMiB) * 1024 / Double(report.idle)
    print(String(format: "connections: hub (--loops 2) threads %d at start, %d with %d idle + %d active connections",
                 report.hubThreadsIdle, report.hubThreadsLoaded, report.idle, report.active))
    print(String(format: "connections: hub resident memory %.0f MiB at start, %.0f MiB with %d idle (%.1f KiB per connection), %.0f MiB with the active ones",
                 report.hubRSSBaseMiB, report.hubRSSIdleMiB, report.idle, perConnection, report.hubRSSLoadedMiB))
    print(String(format: "connections: %d idle connects in %.1f s; %d subscribers received %.0f readings/s (100 sensors at 10 Hz, 10 subscribers each); client process threads %d",
                 report.idle, report.connectSeconds, report.active, report.readingsPerSecond, report.clientThreads))
}
