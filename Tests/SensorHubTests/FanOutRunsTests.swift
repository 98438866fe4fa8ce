import SensorStream
import SensorWire
import Testing
@testable import SensorHub

@Suite("Fan-out runs: each message framed once, each recipient's messages in order")
struct FanOutRunsTests {
    func reading(_ sensor: String, _ value: Double, to recipients: [UInt64]) -> HubState.Delivery {
        HubState.Delivery(message: .sensorData(sensorID: sensor, readings: .number(value)), recipients: recipients)
    }

    func status(_ sensor: String, to recipients: [UInt64]) -> HubState.Delivery {
        HubState.Delivery(message: .connectionStatus(sensorID: sensor, connected: true), recipients: recipients)
    }

    @Test("a batch of one sensor's readings is one run for every subscriber")
    func oneRun() {
        let subscribers: [UInt64] = [3, 1, 2]
        let runs = FanOutRuns((0..<64).map { reading("S", Double($0), to: subscribers) })
        #expect(runs.runs.count == 1)
        #expect(runs.runs[0].messages.texts.count == 64 && runs.runs[0].isReading)
        #expect(runs.runs[0].messages.serverFrames != nil, "framed once: more than one recipient")
        #expect(runs.recipients.map(\.peer) == subscribers && runs.recipients.allSatisfy { $0.runs == [0] })
        #expect(runs.readingCount == 64 * 3)
    }

    @Test("mixed kinds and recipients: every recipient gets exactly its messages, in batch order")
    func mixed() {
        let deliveries = [
            reading("A", 1, to: [1, 2]), reading("A", 2, to: [1, 2]), status("A", to: [1, 2]),
            reading("B", 3, to: [2, 3]), reading("A", 4, to: [1, 2]), reading("C", 5, to: [4]),
        ]
        let runs = FanOutRuns(deliveries)
        #expect(runs.runs.count == 5)
        #expect(runs.runs.map(\.isReading) == [true, false, true, true, true])
        #expect(runs.runs[4].messages.serverFrames == nil, "one recipient: framed by its connection, no copy")
        // What each recipient gets, flattened, against the deliveries filtered by recipient.
        for recipient in runs.recipients {
            let got = recipient.runs.flatMap { runs.runs[$0].messages.texts }
            let expected = deliveries.filter { $0.recipients.contains(recipient.peer) }.map(\.message.encodedText)
            #expect(got == expected, "recipient \(recipient.peer)")
        }
        #expect(runs.recipients.map(\.peer) == [1, 2, 3, 4], "in the order of their first message")
        #expect(runs.readingCount == 2 + 2 + 2 + 2 + 1)
    }
}
