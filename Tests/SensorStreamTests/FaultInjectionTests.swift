import Foundation
import Locking
import Testing
import TestSupport
import WebSocketCore
@testable import SensorHub
@testable import SensorStream

/// Readings per sensor as the client delivered them: the `seq` field of each, and whether it
/// followed a reconnect gap.
final class SequenceRecorder: Sendable {
    private let received = LockedValue<[String: [(seq: Int, followsGap: Bool)]]>([:])
    private let tasks: LockedValue<[Task<Void, Never>]> = LockedValue([])

    init(client: SensorClient, sensors: [String]) {
        for sensorID in sensors {
            let stream = client.readings(sensorID)
            let task = Task { [received] in
                for await reading in stream {
                    received.withLock { $0[sensorID, default: []].append((reading.readings["seq"]?.intValue ?? -1, reading.followsGap)) }
                }
            }
            tasks.withLock { $0.append(task) }
        }
    }

    func sequences(_ sensorID: String) -> [Int] { received.withLock { $0[sensorID, default: []].map(\.seq) } }
    func gaps(_ sensorID: String) -> [Bool] { received.withLock { $0[sensorID, default: []].map(\.followsGap) } }
    func count(_ sensorID: String) -> Int { received.withLock { $0[sensorID, default: []].count } }
    func cancel() { tasks.withLock { $0.forEach { $0.cancel() } } }
}

extension HubRecorder {
    /// How many times the hub has received `subscribe_sensor` for `sensorID`.
    func subscribeCount(_ sensorID: String) -> Int {
        messages.filter { $0 == .subscribe(sensorID: sensorID) }.count
    }
}

/// A hub with one in-process agent serving `sensors`, a fault proxy in front of it, and a
/// client connected through the proxy.
struct ProxiedHub {
    let hub: Hub
    let recorder: HubRecorder
    let agent: LocalAgent
    let proxy: FaultProxy
    let client: SensorClient

    init(sensors: [String], configuration: SensorClient.Configuration = FaultInjectionTests.quickReconnects(),
         clock: any Clock<Duration> = ContinuousClock()) async throws {
        (hub, recorder, agent) = try makeHub(sensors: sensors)
        do {
            proxy = try FaultProxy(upstreamPort: hub.port)
        } catch {
            Task { [hub] in await hub.stop() }
            throw error
        }
        client = SensorClient(host: "127.0.0.1", port: proxy.port, configuration: configuration, clock: clock)
        do {
            try await client.connect()
        } catch {
            stop()
            throw error
        }
    }

    /// Stops the proxy, then the hub (in the background).
    func stop() {
        proxy.stop()
        Task { [hub] in await hub.stop() }
    }
}

/// Faults injected by ``FaultProxy`` between a real client and a real hub on loopback.
@Suite("Fault injection: drops, resets, half-open, cut frames, delays, storms", .timeLimit(.minutes(2)))
struct FaultInjectionTests {
    static let sensors = ["A01-S1", "A01-S2", "A01-S3", "A01-S4", "A01-S5"]

    /// Quick reconnects so that 100 cycles take seconds.
    static func quickReconnects() -> SensorClient.Configuration {
        var configuration = testConfiguration()
        configuration.reconnect = .init(initialDelay: .milliseconds(5), maxDelay: .milliseconds(20), jitter: 0)
        return configuration
    }

    /// Breaks the connection `cycles` times with `fault`. After each reconnect: all 5 sensors
    /// resubscribed (the hub logged a new `subscribe_sensor` for each and holds exactly one
    /// subscriber), and every reading the hub sent after that arrives, in order, the first one
    /// marked as following a gap.
    func runCycles(_ cycles: Int, fault: (FaultProxy, LocalAgent) async -> Void) async throws {
        let setup = try await ProxiedHub(sensors: Self.sensors)
        defer { setup.stop() }
        let (hub, recorder, agent, proxy, client) = (setup.hub, setup.recorder, setup.agent, setup.proxy, setup.client)
        let readings = SequenceRecorder(client: client, sensors: Self.sensors)
        defer { readings.cancel() }

        var published = 0
        for cycle in 0...cycles {
            let resubscribed = await eventually {
                Self.sensors.allSatisfy { recorder.subscribeCount($0) == cycle + 1 && hub.subscriberCount($0) == 1 }
            }
            #expect(resubscribed, "cycle \(cycle): all 5 resubscribed")
            guard resubscribed else { break }
            for seq in published..<published + 3 {
                for sensorID in Self.sensors { agent.publish(sensorID, ["seq": .number(Double(seq))]) }
            }
            published += 3
            let expected = published
            let delivered = await eventually { Self.sensors.allSatisfy { readings.count($0) == expected } }
            #expect(delivered, "cycle \(cycle): all readings sent after the resubscribe arrived")
            guard delivered else { break }
            if cycle < cycles {
                await fault(proxy, agent)
                #expect(await eventually { client.statistics.reconnects == cycle + 1 }, "cycle \(cycle): reconnected")
            }
        }
        for sensorID in Self.sensors {
            #expect(readings.sequences(sensorID) == Array(0..<published), "\(sensorID): none lost, none duplicated, in order")
            let gaps = readings.gaps(sensorID)
            let expectedGaps = (0..<published).map { $0 >= 3 && $0 % 3 == 0 }
            #expect(gaps == expectedGaps, "\(sensorID): the first reading after each reconnect follows a gap")
        }
        #expect(client.statistics.reconnects == cycles)
        #expect(client.statistics.readingsDropped == 0)
        await client.disconnect()
    }

    @Test("100 abrupt drops in a row with 5 subscriptions: resubscribed and delivering after each, nothing lost")
    func hundredDrops() async throws {
        try await runCycles(100) { proxy, _ in await proxy.dropAll() }
    }

    @Test("20 connection resets (RST): same guarantees")
    func resets() async throws {
        try await runCycles(20) { proxy, _ in await proxy.resetAll() }
    }

    @Test("a frame cut in the middle, then the connection closed: nothing partial delivered, reconnect, delivering again")
    func cutFrame() async throws {
        try await runCycles(10) { proxy, agent in
            await proxy.cutNextFrameAndClose()
            agent.publish(Self.sensors[0], ["seq": -1])  // cut in half: must never be delivered
        }
    }

    @Test("a frame cut mid-payload while a reading is in flight is not delivered")
    func cutReadingIsDropped() async throws {
        let setup = try await ProxiedHub(sensors: ["A01-S1"])
        defer { setup.stop() }
        let (hub, recorder, agent, proxy, client) = (setup.hub, setup.recorder, setup.agent, setup.proxy, setup.client)
        let readings = SequenceRecorder(client: client, sensors: ["A01-S1"])
        defer { readings.cancel() }
        #expect(await eventually { hub.subscriberCount("A01-S1") == 1 })
        await proxy.cutNextFrameAndClose()
        agent.publish("A01-S1", ["seq": 0])  // cut in half by the proxy
        #expect(await eventually { client.statistics.reconnects == 1 })
        #expect(await eventually { recorder.subscribeCount("A01-S1") == 2 && hub.subscriberCount("A01-S1") == 1 })
        agent.publish("A01-S1", ["seq": 1])
        #expect(await eventually { readings.count("A01-S1") == 1 })
        #expect(readings.sequences("A01-S1") == [1], "the half frame was never delivered")
        #expect(readings.gaps("A01-S1") == [true])
        await client.disconnect()
    }

    @Test("a half-open connection (traffic blackholed, sockets open) is found by the heartbeat after interval + timeout")
    func halfOpen() async throws {
        let clock = ManualClock()
        var configuration = Self.quickReconnects()
        configuration.heartbeat = .init(interval: .seconds(10), timeout: .seconds(5))
        let setup = try await ProxiedHub(sensors: ["A01-S1"], configuration: configuration, clock: clock)
        defer { setup.stop() }
        let (hub, recorder, agent, proxy, client) = (setup.hub, setup.recorder, setup.agent, setup.proxy, setup.client)
        let readings = SequenceRecorder(client: client, sensors: ["A01-S1"])
        defer { readings.cancel() }
        #expect(await eventually { hub.subscriberCount("A01-S1") == 1 })

        // A healthy round first: the pong comes back, nothing happens.
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(10))
        #expect(await clock.waitForDeadlines([.seconds(20)]), "pong received: the next interval started")
        #expect(client.currentState == .connected)

        proxy.setBlackhole(true)
        clock.advance(by: .seconds(10))  // t = 20 s: ping sent into the void
        #expect(await clock.waitForDeadlines([.seconds(25)]), "waiting for the pong")
        clock.advance(by: .seconds(4))
        // The pong timeout is still armed, untouched (a manual clock fires nothing early); the
        // positive control follows: one more second and the connection drops.
        #expect(clock.sleeperDeadlines == [.seconds(25)], "the timeout has not fired at 24 s")
        #expect(client.currentState == .connected, "still connected before interval + timeout")
        clock.advance(by: .seconds(1))  // t = 25 s = last pong + interval + timeout
        #expect(await eventually {
            if case .reconnecting(1, _, let reason) = client.currentState { return reason.message.contains("pong") }
            return false
        }, "detected at interval + timeout")

        proxy.setBlackhole(false)
        #expect(await clock.waitForSleepers(1))  // the backoff delay
        clock.advance(by: .seconds(1))
        #expect(await eventually { recorder.subscribeCount("A01-S1") == 2 && hub.subscriberCount("A01-S1") == 1 })
        agent.publish("A01-S1", ["seq": 1])
        #expect(await eventually { readings.sequences("A01-S1") == [1] })
        await client.disconnect()
    }

    @Test("delays in each direction: requests and readings still work, round trips take the delay")
    func delayed() async throws {
        let setup = try await ProxiedHub(sensors: ["A01-S1"])
        defer { setup.stop() }
        let (hub, recorder, agent, proxy, client) = (setup.hub, setup.recorder, setup.agent, setup.proxy, setup.client)
        proxy.setDelay(toServer: .milliseconds(60), toClient: .milliseconds(40))
        let start = ContinuousClock.now
        #expect(try await client.sensorConnected("A01-S1") == true)
        #expect(ContinuousClock.now - start >= .milliseconds(100), "the answer waited for both delays")
        let readings = SequenceRecorder(client: client, sensors: ["A01-S1"])
        defer { readings.cancel() }
        #expect(await eventually { recorder.subscribeCount("A01-S1") == 1 && hub.subscriberCount("A01-S1") == 1 })
        for seq in 0..<50 { agent.publish("A01-S1", ["seq": .number(Double(seq))]) }
        #expect(await eventually { readings.count("A01-S1") == 50 })
        #expect(readings.sequences("A01-S1") == Array(0..<50))
        #expect(client.currentState == .connected)
        await client.disconnect()
    }

    @Test("a request slower than requestTimeout fails with a timeout; the late answer is ignored, the connection stays usable")
    func delayBeyondTimeout() async throws {
        let clock = ManualClock()
        var configuration = Self.quickReconnects()
        configuration.requestTimeout = .seconds(1)
        let setup = try await ProxiedHub(sensors: ["A01-S1"], configuration: configuration, clock: clock)
        defer { setup.stop() }
        let (recorder, proxy, client) = (setup.recorder, setup.proxy, setup.client)
        let statuses = client.sensorStatuses
        let lateAnswer = Task { await collect(statuses, count: 1) }
        // The proxy holds the answer until released: a delay in real time would race the
        // test clock's timeout (an answer delivered by the loop thread can beat the timer's
        // task to it on a loaded machine).
        proxy.setDelay(toClient: .seconds(600))
        let slow = Task { try await client.sensorConnected("A01-S1") }
        #expect(await clock.waitForSleepers(1), "the request timer runs")
        #expect(await recorder.waitFor(.connectionStatus(sensorID: "A01-S1")), "the hub got the request")
        clock.advance(by: .seconds(1))  // the answer is still held by the proxy
        await #expect(throws: SensorClientError.timeout) { try await slow.value }
        proxy.setDelay()
        await proxy.releaseHeld()
        // The late answer arrives: seen on the status stream, answering no one.
        #expect(await lateAnswer.value == [SensorStatus(sensorID: "A01-S1", connected: true)])
        #expect(client.currentState == .connected)
        #expect(try await client.sensorConnected("A01-S1") == true)
        await client.disconnect()
    }

    @Test("a reconnect storm is bounded by the backoff: attempts per second fall as delays double (test clock)")
    func reconnectStorm() async throws {
        let clock = ManualClock()
        var configuration = testConfiguration()
        configuration.reconnect = .init(initialDelay: .milliseconds(100), maxDelay: .seconds(30), multiplier: 2, jitter: 0.2)
        let setup = try await ProxiedHub(sensors: ["A01-S1"], configuration: configuration, clock: clock)
        defer { setup.stop() }
        let (proxy, client) = (setup.proxy, setup.client)
        // The proxy keeps accepting, but as if the hub behind it were gone: every attempt fails
        // at the handshake.
        proxy.setUpstreamPort(nil)
        await proxy.dropAll()

        // Each backoff sleep is a sleeper on the test clock; jump to its deadline, then the
        // attempt runs for real against the proxy. Attempt times are on the test clock.
        var attemptTimes: [Duration] = []
        for attempt in 1...14 {
            #expect(await clock.waitForSleepers(1), "attempt \(attempt) is scheduled")
            guard let deadline = clock.sleeperDeadlines.first else { break }
            #expect(proxy.acceptedCount == attempt, "no attempt before its backoff delay ran out")
            clock.advance(by: deadline - clock.now.offset)
            attemptTimes.append(deadline)
            #expect(await eventually { proxy.acceptedCount == attempt + 1 }, "attempt \(attempt) reached the proxy")
        }
        await client.disconnect()

        // Delays 0.1, 0.2, 0.4 ... 25.6, 30, 30 s, each within ±20 %.
        var previous = Duration.zero
        for (index, time) in attemptTimes.enumerated() {
            let nominal = min(Duration.milliseconds(100) * (1 << index), .seconds(30))
            let delay = time - previous
            #expect(delay >= nominal * 0.8 && delay <= nominal * 1.2, "delay before attempt \(index + 1): \(delay), nominal \(nominal)")
            previous = time
        }
        let perSecond = Dictionary(grouping: attemptTimes) { $0.components.seconds }.mapValues(\.count)
        #expect(perSecond.values.allSatisfy { $0 <= 4 }, "attempts per second: \(perSecond.sorted { $0.key < $1.key })")
        let lastMinute = attemptTimes.filter { $0 > attemptTimes[attemptTimes.count - 1] - .seconds(60) }
        #expect(lastMinute.count <= 3, "at the cap, at most 3 attempts a minute: \(attemptTimes)")
    }
}

@Suite("Memory stays bounded against hostile or fast servers", .timeLimit(.minutes(1)))
struct MemoryBoundTests {
    @Test("a frame header announcing 2^63 - 1 bytes: the client closes with 1009 at the header and buffers nothing")
    func hugeFrameHeader() async throws {
        let raw = try RawServer()
        defer { raw.close() }
        let client = SensorClient(host: "127.0.0.1", port: raw.port, configuration: testConfiguration())
        async let accepted = acceptRawClient(raw)
        try await client.connect()
        let peer = try await accepted
        try peer.write([0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0x41, count: 1000))
        let frames = try await readClientFrames(peer, count: 2)
        #expect(frames.map(\.opcode) == [.text, .close], "client_connect, then the close")
        let close = frames.last.flatMap { frame in
            frame.payload.withUnsafeBytes { try? WebSocketCloseFrame(parsing: $0) }
        }
        #expect(close?.code == .messageTooBig)
        // The client stopped at the header: the rest of the "payload" was never waited for.
        // Once the server closes TCP (RFC 6455 section 7.1.1), it reconnects.
        peer.close()
        #expect(await eventually {
            if case .reconnecting(1, _, let reason) = client.currentState { return reason.closeCode == 1009 }
            return false
        })
        await client.disconnect()
    }

    @Test("a flood into a consumer that never reads keeps only the newest readingBufferSize readings")
    func flood() async throws {
        let (hub, _, agent) = try makeHub(sensors: ["A01-S1"])
        defer { Task { await hub.stop() } }
        var configuration = testConfiguration()
        configuration.readingBufferSize = 256
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: configuration)
        try await client.connect()
        var stalled = client.readings("A01-S1").makeAsyncIterator()
        #expect(await eventually { hub.subscriberCount("A01-S1") == 1 })
        let count = 20_000
        for seq in 0..<count { agent.publish("A01-S1", ["seq": .number(Double(seq))]) }
        #expect(await eventually(timeout: .seconds(30)) { client.statistics.readingsReceived == count })
        #expect(client.statistics.readingsDropped == count - 256)
        var kept: [Int] = []
        for _ in 0..<256 { if let reading = await stalled.next() { kept.append(reading.readings["seq"]?.intValue ?? -1) } }
        #expect(kept == Array(count - 256..<count), "exactly the newest 256 were held")
        await client.disconnect()
    }
}
