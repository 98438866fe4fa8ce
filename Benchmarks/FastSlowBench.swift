import FastSlow
import Foundation
import TCPTransport
import TestSupport

/// FastSlow: the codec in memory; over loopback, fast round trips with one request in flight
/// and 1,000 clients asking slow(1) at once, against our server and a Python asyncio server
/// using the reference `protobuf` package, each in its own process, driven by the same client.
enum FastSlowBench {
    /// The child: our server on a free port; prints the port, serves until stdin closes.
    static func serve() async throws {
        let server = try FastSlowServer(configuration: .init(port: 0))
        FileHandle.standardOutput.write(Data("port \(server.port)\n".utf8))
        _ = await Task.detached { FileHandle.standardInput.readDataToEndOfFile() }.value
        server.stop()
    }

    /// Encodes and frames 1M messages (half fast answers, half slow requests).
    static func encode() -> Benchmark.Work {
        let messages: [WrapperMessage] = [.fastResponse(.init(currentDateTime: "19851019T050107.333")),
                                          .requestForSlowResponse(.init(timeInSecondsToSleep: 2))]
        var output: [UInt8] = []
        output.reserveCapacity(20_000_000)
        for index in 0..<1_000_000 { messages[index & 1].appendDelimited(to: &output) }
        return Benchmark.Work(bytes: output.count, items: 1_000_000, checksum: Int(output.last ?? 0))
    }

    static let stream: [UInt8] = {
        var output: [UInt8] = []
        _ = (0..<1_000_000).map { index in
            let message: WrapperMessage = index & 1 == 0 ? .fastResponse(.init(currentDateTime: "19851019T050107.333"))
                : .requestForSlowResponse(.init(timeInSecondsToSleep: 2))
            message.appendDelimited(to: &output)
        }
        return output
    }()

    /// Frames and decodes those 1M messages from 16 KiB reads.
    static func decode() throws -> Benchmark.Work {
        var framer = DelimitedFramer()
        var bodies: [[UInt8]] = []
        var count = 0
        var checksum = 0
        try feedInChunks(stream) { input in
            try framer.feed(UnsafeRawBufferPointer(input), into: &bodies)
            for body in bodies {
                switch try WrapperMessage.decode(body) {
                case .fastResponse(let response): checksum &+= response.currentDateTime.utf8.count
                case .requestForSlowResponse(let request): checksum &+= Int(request.timeInSecondsToSleep)
                default: break
                }
                count += 1
            }
            bodies.removeAll(keepingCapacity: true)
        }
        return Benchmark.Work(bytes: stream.count, items: count, checksum: checksum)
    }

    /// `count` fast round trips, one at a time: rate and each round trip.
    static func roundTrips(port: Int, count: Int) async throws -> (Double, [Duration]) {
        let client = FastSlowClient(host: "127.0.0.1", port: port)
        defer { client.close() }
        try await client.connect()
        var trips: [Duration] = []
        trips.reserveCapacity(count)
        let start = ContinuousClock.now
        for _ in 0..<count {
            let begin = ContinuousClock.now
            _ = try await client.fast()
            trips.append(ContinuousClock.now - begin)
        }
        return (Double(count) / (ContinuousClock.now - start).secondsValue, trips)
    }

    /// `count` fast round trips from a bare blocking socket (write the request, read the
    /// 24-byte answer): the server's share of a round trip, without our client's.
    static func rawRoundTrips(port: Int, count: Int) throws -> (Double, [Duration]) {
        let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
        defer { peer.close() }
        let request = DelimitedFramer.frame(WrapperMessage.requestForFastResponse.encoded)
        var trips: [Duration] = []
        trips.reserveCapacity(count)
        let start = ContinuousClock.now
        for _ in 0..<count {
            let begin = ContinuousClock.now
            try peer.write(request)
            let answer = try peer.read(count: 24)
            precondition(answer.count == 24, "short answer")
            trips.append(ContinuousClock.now - begin)
        }
        return (Double(count) / (ContinuousClock.now - start).secondsValue, trips)
    }

    /// The floor of a round trip on this machine: a bare blocking echo thread (reads a request,
    /// writes 24 bytes, no protocol work) and the bare client above, in this process.
    static func loopbackFloor(count: Int) async throws -> (Double, [Duration]) {
        let server = try RawServer()
        defer { server.close() }
        let echo = Thread {
            guard let peer = try? server.accept() else { return }
            defer { peer.close() }
            let answer = [UInt8](repeating: 0, count: 24)
            while let request = try? peer.read(count: 3), request.count == 3 {
                guard (try? peer.write(answer)) != nil else { return }
            }
        }
        echo.start()
        return try await Task.detached { try rawRoundTrips(port: server.port, count: count) }.value
    }

    /// `clients` clients connect, then all ask slow(1) at once: seconds until every answer.
    static func slowCrowd(port: Int, clients count: Int) async throws -> Double {
        var clients: [FastSlowClient] = []
        for _ in 0..<count {
            let client = FastSlowClient(host: "127.0.0.1", port: port)
            try await client.connect()
            clients.append(client)
        }
        defer { for client in clients { client.close() } }
        let start = ContinuousClock.now
        let answers = try await withThrowingTaskGroup(of: UInt32.self) { group in
            for client in clients { group.addTask { try await client.slow(sleepSeconds: 1) } }
            return try await group.reduce(into: [UInt32]()) { $0.append($1) }
        }
        // At least every client of the crowd (a client of the previous row may not be gone yet).
        precondition(answers.count == count && answers.allSatisfy { $0 >= UInt32(count) }, "wrong slow answers")
        return (ContinuousClock.now - start).secondsValue
    }

    static func report(_ name: String, executable: String, arguments: [String], samples: Int) async throws {
        var rates: [Double] = []
        var trips: [Duration] = []
        var crowd: [Double] = []
        var rawRates: [Double] = []
        var rawTrips: [Duration] = []
        for sample in 0...samples {
            let (child, port, input) = try MetricStoreBench.start(executable, arguments)
            defer {
                try? input.fileHandleForWriting.close()
                child.waitUntilExit()
            }
            let (rate, sampleTrips) = try await roundTrips(port: port, count: sample == 0 ? 2_000 : 20_000)
            guard sample > 0 else { continue }  // warm-up
            rates.append(rate)
            trips += sampleTrips
            let (rawRate, rawSample) = try await Task.detached { try rawRoundTrips(port: port, count: 20_000) }.value
            rawRates.append(rawRate)
            rawTrips += rawSample
            crowd.append(try await slowCrowd(port: port, clients: 1000))
        }
        rates.sort()
        trips.sort()
        crowd.sort()
        rawRates.sort()
        rawTrips.sort()
        let p50 = trips[trips.count / 2].secondsValue * 1e6
        let p99 = trips[trips.count * 99 / 100].secondsValue * 1e6
        print("fastslow: \(name)".padding(toLength: 40, withPad: " ", startingAt: 0) + " "
              + String(format: "fast round trips %.0f /s [%.0f ... %.0f], p50 %.0f µs, p99 %.0f µs; 1,000 clients slow(1): all answered in %.3f s [%.3f ... %.3f]",
                       rates[rates.count / 2], rates.first!, rates.last!, p50, p99, crowd[crowd.count / 2], crowd.first!, crowd.last!))
        print("fastslow: \(name), bare client".padding(toLength: 40, withPad: " ", startingAt: 0) + " "
              + String(format: "fast round trips %.0f /s [%.0f ... %.0f], p50 %.0f µs, p99 %.0f µs",
                       rawRates[rawRates.count / 2], rawRates.first!, rawRates.last!,
                       rawTrips[rawTrips.count / 2].secondsValue * 1e6, rawTrips[rawTrips.count * 99 / 100].secondsValue * 1e6))
    }

    /// The Python with `protobuf`: $FASTSLOW_PYTHON, else .build-venv/bin/python in the package.
    static func python() -> String? {
        if let given = ProcessInfo.processInfo.environment["FASTSLOW_PYTHON"] { return given }
        let venv = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build-venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }
}
