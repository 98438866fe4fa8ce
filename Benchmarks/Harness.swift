import Foundation

/// One named benchmark: `run` does the work once and returns how much it processed, so
/// nothing is optimised away and rates can be computed.
struct Benchmark {
    struct Work {
        /// Bytes processed (for MB/s), 0 if not meaningful.
        var bytes: Int
        /// Items processed (frames, messages, readings).
        var items: Int
        /// A value derived from every item (printed, so the work cannot be skipped).
        var checksum: Int
    }

    let name: String
    /// What `items` counts: "frames", "messages", "readings".
    let itemName: String
    let run: () throws -> Work
}

/// Runs each benchmark: one warm-up, then `samples` timed runs; prints median, min and max.
func runBenchmarks(_ benchmarks: [Benchmark], filter: String?, samples: Int) {
    print("SensorStream benchmarks, \(samples) samples after 1 warm-up, median [min ... max]")
    print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.operatingSystemVersionString)")
    for benchmark in benchmarks where filter.map({ benchmark.name.contains($0) }) ?? true {
        do {
            let warmUp = try benchmark.run()
            var seconds: [Double] = []
            var work = warmUp
            for _ in 0..<samples {
                let start = ContinuousClock.now
                work = try benchmark.run()
                let elapsed = ContinuousClock.now - start
                seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            seconds.sort()
            let median = seconds[seconds.count / 2]
            func rate(_ amount: Int, _ time: Double) -> Double { Double(amount) / time }
            var line = "\(benchmark.name.padding(toLength: 44, withPad: " ", startingAt: 0))"
            if work.bytes > 0 {
                line += String(format: " %8.0f MB/s [%.0f ... %.0f]", rate(work.bytes, median) / 1e6,
                               rate(work.bytes, seconds.last!) / 1e6, rate(work.bytes, seconds.first!) / 1e6)
            }
            line += String(format: "  %7.2f M %@/s [%.2f ... %.2f]", rate(work.items, median) / 1e6, benchmark.itemName,
                           rate(work.items, seconds.last!) / 1e6, rate(work.items, seconds.first!) / 1e6)
            if rate(work.items, median) < 10_000 {
                // Slow items would print as 0.00 M/s: give the time of one.
                line += String(format: "  = %.0f µs per %@", median / Double(work.items) * 1e6, String(benchmark.itemName.dropLast()))
            }
            line += "  (checksum \(work.checksum & 0xFFFF))"
            print(line)
        } catch {
            print("\(benchmark.name): failed: \(error)")
        }
    }
}
