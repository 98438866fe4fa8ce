import ConnectionCore
import Testing
import TestSupport
@testable import SensorHub
@testable import SensorStream

@Suite("SensorClient.connectionExecutor", .timeLimit(.minutes(1)))
struct ConnectionExecutorTests {
    @Test("a consumer preferring the connection executor gets every reading in order, its body on the connection's thread; one without it runs elsewhere (control)")
    func consumerOnTheConnectionThread() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "localhost", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        try await client.subscribe("CE7238J")
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        let onExecutor = Task(executorPreference: client.connectionExecutor) { () async -> [(Int?, Bool)] in
            var seen: [(Int?, Bool)] = []
            for await reading in client.readings("CE7238J") {
                seen.append((reading.readings["seq"]?.intValue, EventLoop.shared.inLoop))
                if seen.count == 20 { break }
            }
            return seen
        }
        let onPool = Task { () async -> [(Int?, Bool)] in
            var seen: [(Int?, Bool)] = []
            for await reading in client.readings("CE7238J") {
                seen.append((reading.readings["seq"]?.intValue, EventLoop.shared.inLoop))
                if seen.count == 20 { break }
            }
            return seen
        }
        #expect(await eventually { client.consumerCount("CE7238J") == 2 }, "both loops attached")
        for index in 0..<20 { agent.publish("CE7238J", ["seq": .number(Double(index))]) }
        let loopSide = await onExecutor.value
        let poolSide = await onPool.value
        let bodiesOnLoop = loopSide.filter { $0.1 }.count
        let poolBodiesOnLoop = poolSide.filter { $0.1 }.count
        #expect(loopSide.map { $0.0 } == Array(0..<20))
        #expect(bodiesOnLoop == 20, "every body ran on the connection's thread")
        #expect(poolSide.map { $0.0 } == Array(0..<20))
        #expect(poolBodiesOnLoop == 0, "without the preference no body ran there")
        await client.disconnect()
    }
}
