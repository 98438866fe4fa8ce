import SensorWire
import Testing
@testable import SensorHub

/// The simulation's sensors each walk a series of their own.
@Suite("Simulated series")
struct SimulatedSeriesTests {
    @Test("200 simulated sensors (20 agents of 10) have distinct seeds and no two walk the same values")
    func distinct() {
        var seeds = Set<UInt64>()
        var series = Set<[JSONValue]>()
        for agent in 1...20 {
            for sensor in 1...10 {
                let seed = Simulation.walkSeed(42, agent: agent, sensor: sensor)
                seeds.insert(seed)
                var walk = RandomWalk(seed: seed)
                series.insert((1...5).map { step in
                    let reading = walk.step(sequence: step, timestamp: 0)
                    return [reading["temperature"] ?? .null, reading["humidity"] ?? .null]
                })
            }
        }
        #expect(seeds.count == 200)
        #expect(series.count == 200, "two sensors sent the same five readings")
        // The neighbours that once collided (seeds that differed in their lowest bit).
        #expect(Simulation.walkSeed(42, agent: 1, sensor: 2) | 1 != Simulation.walkSeed(42, agent: 1, sensor: 3) | 1)
    }
}
