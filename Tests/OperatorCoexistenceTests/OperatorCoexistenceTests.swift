// This file imports SensorStream and (the mirrored signatures of) swift-async-algorithms
// together, as an app using both would: every call below must compile without ambiguity.
import AsyncAlgorithmsMirror
import SensorStream
import Testing

/// An app's own sequence: not a SensorStreamSequence, so only AsyncAlgorithms' operators apply.
struct AppSequence: AsyncSequence, Sendable {
    typealias Element = Int
    func makeAsyncIterator() -> AsyncStream<Int>.Iterator { AsyncStream<Int> { $0.finish() }.makeAsyncIterator() }
}

@Suite("SensorStream's operators coexist with swift-async-algorithms in one file")
struct OperatorCoexistenceTests {
    let client = SensorClient(host: "127.0.0.1", port: 1)

    @Test("on SensorStream's sequences the calls pick SensorStream's operators")
    func oursOnOurSequences() {
        let readings = client.readings("CE7238J")
        #expect(type(of: readings.debounce(for: .milliseconds(300))) == DebouncedSequence<SensorReadings, ContinuousClock>.self)
        #expect(type(of: readings.debounce(for: .milliseconds(300), clock: ContinuousClock())) == DebouncedSequence<SensorReadings, ContinuousClock>.self)
        #expect(type(of: readings.throttle(for: .seconds(1), latest: true)) == ThrottledSequence<SensorReadings, ContinuousClock>.self)
        #expect(type(of: readings.throttle(for: .seconds(1))) == ThrottledSequence<SensorReadings, ContinuousClock>.self)
        #expect(type(of: readings.map(\.readings).removeDuplicates()) == DeduplicatedSequence<AsyncMapSequence<SensorReadings, JSONValue>>.self)
        #expect(type(of: readings.liveness(timeout: .seconds(5))) == LivenessSequence<SensorReadings, ContinuousClock>.self)
        #expect(type(of: client.connectionStates.removeDuplicates()) == DeduplicatedSequence<AsyncStream<ConnectionState>>.self)
        #expect(type(of: client.connectionStates.debounce(for: .seconds(1))) == DebouncedSequence<AsyncStream<ConnectionState>, ContinuousClock>.self)
        #expect(type(of: readings.debounce(for: .seconds(1)).throttle(for: .seconds(2))) ==
                ThrottledSequence<DebouncedSequence<SensorReadings, ContinuousClock>, ContinuousClock>.self, "chains stay ours")
    }

    @Test("on other sequences, and where asked by type or by a parameter only they have, AsyncAlgorithms' operators are used")
    func theirsElsewhere() {
        #expect(type(of: AppSequence().debounce(for: .seconds(1))) == AsyncDebounceSequence<AppSequence, ContinuousClock>.self)
        #expect(type(of: AppSequence().throttle(for: .seconds(1), latest: false)) == AsyncThrottleSequence<AppSequence, ContinuousClock, Int>.self)
        #expect(type(of: AppSequence().removeDuplicates()) == AsyncRemoveDuplicatesSequence<AppSequence>.self)
        let theirs: AsyncDebounceSequence<SensorReadings, ContinuousClock> = client.readings("CE7238J").debounce(for: .seconds(1))
        #expect(type(of: theirs) == AsyncDebounceSequence<SensorReadings, ContinuousClock>.self, "a declared type selects theirs")
        let reduced = client.readings("CE7238J").throttle(for: .seconds(1)) { (count: Int?, _) in (count ?? 0) + 1 }
        #expect(type(of: reduced) == AsyncThrottleSequence<SensorReadings, ContinuousClock, Int>.self)
    }

    @Test("and ours run: removeDuplicates on a stream, with both imported")
    func oursRun() async {
        let stream = AsyncStream<Int> { continuation in
            for value in [1, 1, 2, 2, 3, 1] { continuation.yield(value) }
            continuation.finish()
        }
        var values: [Int] = []
        for await value in stream.removeDuplicates() { values.append(value) }
        #expect(values == [1, 2, 3, 1])
    }
}
