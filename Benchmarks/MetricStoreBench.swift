import Foundation
import MetricStore
import TCPTransport
import TestSupport

/// MetricStore over loopback, our server and a Python asyncio peer in the same run, both in
/// their own process and driven by the same client: pipelined puts, `get *` of every point,
/// the round trip of one put at a time.
enum MetricStoreBench {
    struct Rows {
        var putsPerSecond: [Double] = []
        var arrayPutsPerSecond: [Double] = []
        var getSeconds: [Double] = []
        var roundTrips: [Duration] = []
    }

    /// The child: our server on a free port (with `loops` event loops; nil: one per core; a
    /// journal at `dataFile`, every put synced before its `ok`); prints the port, serves until
    /// stdin closes.
    static func serve(loops: Int? = nil, dataFile: String? = nil) async throws {
        let server = try MetricStoreServer(port: 0, configuration: .init(dataFile: dataFile, loops: loops))
        FileHandle.standardOutput.write(Data("port \(server.port)\n".utf8))
        _ = await Task.detached { FileHandle.standardInput.readDataToEndOfFile() }.value
        server.stop()
    }

    /// Starts a server process (a child that prints `port N` and serves until its standard
    /// input closes; every benchmark's children do) and returns it with its port and the pipe
    /// that stops it.
    static func start(_ executable: String, _ arguments: [String]) throws -> (Process, Int, Pipe) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = arguments
        let input = Pipe(), output = Pipe()
        child.standardInput = input
        child.standardOutput = output
        try child.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) { line += output.fileHandleForReading.availableData }
        guard let port = Int(String(decoding: line, as: UTF8.self).split(separator: " ")[1].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return (child, port, input)
    }

    /// One run against a fresh server: `puts` pipelined puts (window 1024) from an
    /// `AsyncStream`, as many from an array (the sequence-at-hand `record`), then `get *` of
    /// them all, then `roundTrips` puts one at a time.
    static func run(executable: String, arguments: [String], puts: Int, roundTrips: Int) async throws -> (Double, Double, [Duration], Double) {
        let (child, port, input) = try start(executable, arguments)
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        let client = MetricStoreClient(host: "127.0.0.1", port: port, timeout: .seconds(120))
        defer { client.close() }
        let samples = AsyncStream<MetricSample>(bufferingPolicy: .unbounded) { continuation in
            for index in 0..<puts { continuation.yield(MetricSample(key: "k\(index % 100)", value: Double(index), timestamp: index)) }
            continuation.finish()
        }
        var start = ContinuousClock.now
        let stored = try await client.record(samples, window: 1024)
        let putSeconds = (ContinuousClock.now - start).secondsValue
        precondition(stored == puts)
        let array = (0..<puts).map { MetricSample(key: "a\($0 % 100)", value: Double($0), timestamp: $0) }
        start = .now
        let storedFromArray = try await client.record(array, window: 1024)
        let arraySeconds = (ContinuousClock.now - start).secondsValue
        precondition(storedFromArray == puts)
        start = .now
        let all = try await client.get("*")
        let getSeconds = (ContinuousClock.now - start).secondsValue
        let count = all.values.reduce(0) { $0 + $1.count }
        precondition(count == 2 * puts, "get * returned \(count) of \(2 * puts) points")
        var trips: [Duration] = []
        for index in 0..<roundTrips {
            let begin = ContinuousClock.now
            try await client.put("rtt", 1, timestamp: index)
            trips.append(ContinuousClock.now - begin)
        }
        return (Double(puts) / putSeconds, getSeconds, trips, Double(puts) / arraySeconds)
    }

    /// The server's share of pipelined puts: a bare socket writes `puts` pre-encoded put
    /// lines from one thread while another reads the `ok\n\n` answers; puts per second from
    /// the first byte written to the last answer read.
    static func bareSender(executable: String, arguments: [String], puts: Int) throws -> Double {
        let (child, port, input) = try start(executable, arguments)
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        var lines: [UInt8] = []
        lines.reserveCapacity(puts * 24)
        for index in 0..<puts { lines += Array("put k\(index % 100) \(index).5 \(index)\n".utf8) }
        let stream = lines
        let peer = RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5)))
        defer { peer.close() }
        let start = ContinuousClock.now
        let writer = Thread { try? peer.write(stream) }
        writer.start()
        let answers = try peer.read(count: puts * 4, timeout: .seconds(300))
        let seconds = (ContinuousClock.now - start).secondsValue
        precondition(answers.count == puts * 4 && Array(answers.prefix(4)) == Array("ok\n\n".utf8), "wrong answers")
        return Double(puts) / seconds
    }

    /// The server's share with `connections` bare senders at once (each a writer and a
    /// reader thread, `puts / connections` pre-encoded puts each); puts per second from the
    /// first byte written to the last answer read on every connection.
    static func bareSenders(executable: String, arguments: [String], connections: Int, puts: Int) throws -> Double {
        let (child, port, input) = try start(executable, arguments)
        defer {
            try? input.fileHandleForWriting.close()
            child.waitUntilExit()
        }
        let each = puts / connections
        let streams = (0..<connections).map { connection -> [UInt8] in
            var lines: [UInt8] = []
            lines.reserveCapacity(each * 26)
            for index in 0..<each { lines += Array("put c\(connection)k\(index % 100) \(index).5 \(index)\n".utf8) }
            return lines
        }
        let peers = try (0..<connections).map { _ in RawPeer(socket: try TCPConnector.connect(host: "127.0.0.1", port: port, timeout: .seconds(5))) }
        defer { for peer in peers { peer.close() } }
        let done = DispatchGroup()
        let start = ContinuousClock.now
        for (peer, stream) in zip(peers, streams) {
            Thread { try? peer.write(stream, timeout: .seconds(300)) }.start()
            done.enter()
            Thread {
                let answers = (try? peer.read(count: each * 4, timeout: .seconds(300))) ?? []
                precondition(answers.count == each * 4, "wrong answers")
                done.leave()
            }.start()
        }
        done.wait()
        return Double(each * connections) / (ContinuousClock.now - start).secondsValue
    }

    /// The server's share (bare senders) with 1 and 8 connections on 1 and 2 event loops,
    /// each configuration sampled in turn.
    static func serverShare(executable: String, puts: Int, samples: Int) async throws {
        for connections in [1, 8] {
            var rates: [Int: [Double]] = [:]
            for _ in 0..<samples {
                for loops in [1, 2] {
                    let rate = try await Task.detached {
                        try bareSenders(executable: executable, arguments: ["--serve-metrics", "\(loops)"], connections: connections, puts: puts)
                    }.value
                    rates[loops, default: []].append(rate)
                }
            }
            for loops in [1, 2] {
                let sorted = (rates[loops] ?? []).sorted()
                print("metricstore: server share, \(connections) connection\(connections == 1 ? "" : "s"), --loops \(loops)".padding(toLength: 52, withPad: " ", startingAt: 0)
                      + String(format: "pipelined puts %.3f M/s [%.3f ... %.3f]", sorted[sorted.count / 2] / 1e6, sorted.first! / 1e6, sorted.last! / 1e6))
            }
        }
        // Durable: every put in the journal and synced before its `ok` (group commit: one
        // fsync for everything that arrived meanwhile, across connections).
        for connections in [1, 8] {
            var rates: [Double] = []
            for _ in 0..<samples {
                let journal = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).journal").path
                defer { try? FileManager.default.removeItem(atPath: journal) }
                rates.append(try await Task.detached {
                    try bareSenders(executable: executable, arguments: ["--serve-metrics", "2", journal], connections: connections, puts: puts)
                }.value)
            }
            rates.sort()
            print("metricstore: server share, \(connections) connection\(connections == 1 ? "" : "s"), durable".padding(toLength: 52, withPad: " ", startingAt: 0)
                  + String(format: "pipelined puts %.3f M/s [%.3f ... %.3f] (journal, fsync before ok, group commit)",
                           rates[rates.count / 2] / 1e6, rates.first! / 1e6, rates.last! / 1e6))
        }
    }

    static func report(_ name: String, executable: String, arguments: [String], puts: Int, samples: Int) async throws {
        _ = try await run(executable: executable, arguments: arguments, puts: puts / 10, roundTrips: 100)  // warm-up
        var rows = Rows()
        for _ in 0..<samples {
            let (rate, getSeconds, trips, arrayRate) = try await run(executable: executable, arguments: arguments, puts: puts, roundTrips: 2000)
            rows.putsPerSecond.append(rate)
            rows.arrayPutsPerSecond.append(arrayRate)
            rows.getSeconds.append(getSeconds)
            rows.roundTrips += trips
        }
        var bare: [Double] = []
        for _ in 0..<samples { bare.append(try await Task.detached { try bareSender(executable: executable, arguments: arguments, puts: puts) }.value) }
        bare.sort()
        rows.putsPerSecond.sort()
        rows.arrayPutsPerSecond.sort()
        rows.getSeconds.sort()
        rows.roundTrips.sort()
        let p50 = rows.roundTrips[rows.roundTrips.count / 2].secondsValue * 1e6
        let p99 = rows.roundTrips[rows.roundTrips.count * 99 / 100].secondsValue * 1e6
        print("metricstore: \(name)".padding(toLength: 40, withPad: " ", startingAt: 0)
              + String(format: "puts %.3f M/s [%.3f ... %.3f] (AsyncStream), %.3f M/s [%.3f ... %.3f] (array); get * of %d points %.2f s [%.2f ... %.2f]; one put round trip p50 %.0f µs, p99 %.0f µs",
                       rows.putsPerSecond[rows.putsPerSecond.count / 2] / 1e6, rows.putsPerSecond.first! / 1e6, rows.putsPerSecond.last! / 1e6,
                       rows.arrayPutsPerSecond[rows.arrayPutsPerSecond.count / 2] / 1e6, rows.arrayPutsPerSecond.first! / 1e6,
                       rows.arrayPutsPerSecond.last! / 1e6,
                       2 * puts, rows.getSeconds[rows.getSeconds.count / 2], rows.getSeconds.first!, rows.getSeconds.last!, p50, p99))
        print("metricstore: \(name), bare sender".padding(toLength: 40, withPad: " ", startingAt: 0) + " "
              + String(format: "pipelined puts %.3f M/s [%.3f ... %.3f] (pre-encoded lines, one writer thread, one reader)",
                       bare[bare.count / 2] / 1e6, bare.first! / 1e6, bare.last! / 1e6))
    }
}
