import ConnectionCore
import Foundation
import Testing
import TestSupport
import WebSocketIO
@testable import SensorHub
@testable import SensorStream
import SensorWire

@Suite("Hub: a loop group, a stalled subscriber, fair fan-out", .timeLimit(.minutes(2)))
struct HubFairnessTests {
    @Test("an agent on one loop fans out to apps on the other loop of a 2-loop group, every reading in order")
    func fanOutAcrossLoops() async throws {
        let group = EventLoopGroup(loops: [EventLoop(name: "hub loop A"), EventLoop(name: "hub loop B")])
        let hub = try Hub(group: group)
        defer { Task { await hub.stop() } }
        let agent = try await connectAgent(hub, name: "agent", sensors: ["L-1"])
        #expect(await eventually { hub.isConnected("L-1") })
        let apps = (0..<3).map { _ in SensorClient(host: "127.0.0.1", port: hub.port, configuration: .init(heartbeat: .disabled)) }
        for app in apps { try await app.connect() }
        let collected = apps.map { app in Task { await collectReadings(app.readings("L-1"), count: 1000) } }
        #expect(await eventually { hub.subscriberCount("L-1") == 3 })
        // Connections go to the loops in turn: the agent's and at least one app's differ.
        let snapshots = hub.connectionSnapshots
        let agentLoop = try #require(snapshots.first { $0.isAgent }?.loop)
        let appLoops = Set(snapshots.filter { !$0.isAgent }.map(\.loop))
        #expect(Set(snapshots.map(\.loop)) == ["hub loop A", "hub loop B"], "both loops carry connections")
        #expect(appLoops.contains { $0 != agentLoop }, "an app runs on the other loop than the agent")
        for index in 0..<1000 { try await publish(agent, "L-1", .number(Double(index))) }
        for task in collected {
            #expect(await task.value.map { $0.readings.intValue ?? -1 } == Array(0..<1000))
        }
        for app in apps { await app.disconnect() }
        await agent.close()
    }

    @Test("a subscriber that never reads while an agent floods: the others get every reading in order, its own are dropped with a count, its backlog stays bounded")
    func stalledSubscriber() async throws {
        let maxBacklog = 256 << 10
        let hub = try Hub(maxBacklog: maxBacklog)
        defer { Task { await hub.stop() } }
        let agent = try await connectAgent(hub, name: "flood", sensors: ["F-1"])
        #expect(await eventually { hub.isConnected("F-1") })
        // The stalled one buffers 16 KiB of messages and then stops reading its socket.
        let stalled = try await WebSocketConnection.connect(host: "127.0.0.1", port: hub.port,
                                                            configuration: WebSocketConfiguration(inboundBufferLimit: 16 << 10))
        try await stalled.send(text: SensorProtocol.encode(ClientMessage.subscribe(sensorID: "F-1").envelope))
        let count = 20_000
        let apps = (0..<2).map { _ in SensorClient(host: "127.0.0.1", port: hub.port,
                                                   configuration: .init(heartbeat: .disabled, readingBufferSize: count)) }
        for app in apps { try await app.connect() }
        let collected = apps.map { app in Task { await collectReadings(app.readings("F-1"), count: count, timeout: .seconds(90)) } }
        #expect(await eventually { hub.subscriberCount("F-1") == 3 })
        // Readings of about 500 bytes: 10 MB for each subscriber, far past what the stalled
        // one's kernel buffers and backlog hold.
        let padding = String(repeating: "p", count: 480)
        var peakBacklog = 0
        for index in 0..<count {
            try await publish(agent, "F-1", ["seq": .number(Double(index)), "pad": .string(padding)])
            if index % 1000 == 999 {
                peakBacklog = max(peakBacklog, hub.connectionSnapshots.map(\.buffers.pendingOutput).max() ?? 0)
            }
        }
        for task in collected {
            let sequence = await task.value.map { $0.readings["seq"]?.intValue ?? -1 }
            #expect(sequence == Array(0..<count), "a reading subscriber lost or reordered readings: \(sequence.count) of \(count)")
        }
        // The positive side: the stalled subscriber really was behind, and lost readings.
        #expect(hub.droppedReadings > 0, "nothing was dropped: the stalled subscriber was not stalled")
        // The hub checks the backlog once per batch of what one read of the agent brought (at
        // most 256 messages of about 540 bytes here): the bound is maxBacklog plus one batch.
        #expect(peakBacklog <= maxBacklog + 256 * 600, "a backlog of \(peakBacklog) bytes, bound \(maxBacklog) plus a batch")
        for app in apps { await app.disconnect() }
        stalled.abort()
        await agent.close()
    }
}
