import Testing
import TestSupport
@testable import SensorStream

@Suite("README examples compile and compose")
struct ReadmeExampleTests {
    @Test("operators compose on a client's readings as the README shows")
    func composition() async throws {
        let (hub, _, agent) = try makeHub()
        defer { Task { await hub.stop() } }
        let client = SensorClient(host: "127.0.0.1", port: hub.port, configuration: testConfiguration())
        try await client.connect()
        _ = client.readings("CE7238J").debounce(for: .milliseconds(300))
        _ = client.readings("CE7238J").throttle(for: .seconds(1), latest: true)
        _ = client.readings("CE7238J").liveness(timeout: .seconds(5))
        let distinct = Task { await collect(client.readings("CE7238J").map(\.readings).removeDuplicates(), count: 3) }
        #expect(await eventually { hub.subscriberCount("CE7238J") == 1 })
        for value in [1, 1, 2, 2, 2, 3] { agent.publish("CE7238J", .number(Double(value))) }
        #expect(await distinct.value == [1, 2, 3])
        try await withRetry(client.configuration.reconnect.backoff) { _ in try await client.connect() }
        await client.disconnect()
    }
}
