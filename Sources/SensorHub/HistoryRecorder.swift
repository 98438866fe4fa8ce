import ConnectionCore
import Foundation
import Locking
import MetricStore
import SensorWire

/// Puts every reading the hub accepts into MetricStore, beside the fan-out and never in its
/// way: a reading's numbers (``ReadingHistoryPoints``) go into a bounded queue the caller never
/// waits on, and one task drains it through `MetricStoreClient.record` (pipelined,
/// reconnecting as the client does). When the store is slow or down the queue fills and its
/// oldest points are dropped, counted in ``counts``.
package final class HistoryRecorder: Sendable {
    /// What the recorder did so far.
    package struct Counts: Sendable, Hashable {
        /// Points handed to the store and acknowledged.
        package var stored = 0
        /// Points dropped because the queue was full (the store slow or down).
        package var dropped = 0
        /// Numbers not recorded because their key is not one MetricStore can hold.
        package var skipped = 0
        /// Points lost with a batch the store refused or could not take (unreachable: the
        /// batch is counted here, and the recorder waits before the next one, doubling up to
        /// 5 s, so the queue fills and drops instead of reconnecting in a loop).
        package var failed = 0

        /// Points that never reached the store: dropped and failed.
        package var lost: Int { dropped + failed }

        /// Nothing yet.
        package init() {}
    }

    private let queue: ConsumerQueue<MetricSample>
    private let counters = LockedValue(Counts())
    /// The keys recorded per sensor since the start (at most ``maxKnownKeysPerSensor`` each):
    /// the fields a history request without a field reads.
    let knownKeys = LockedValue<[String: Set<String>]>([:])
    private let drain: Task<Void, Never>
    let client: MetricStoreClient
    /// History reads go through it (``client`` unless another was given).
    let reader: MetricStoreClient

    /// A recorder into `client`'s store.
    /// - Parameters:
    ///   - client: The store's client (the recorder closes it when it stops).
    ///   - reader: The client history reads go through (closed with the recorder): another
    ///     connection, so a large read never holds up the puts' answers; nil: `client`. Give it
    ///     a timeout: without one a read waits as long as the store takes.
    ///   - capacity: Points that may wait for the store before the oldest are dropped.
    ///   - window: Puts in flight at most.
    ///   - flushTimeout: How long ``stop()`` lets what waits go to the store.
    package init(client: MetricStoreClient, reader: MetricStoreClient? = nil, capacity: Int = defaultCapacity, window: Int = 1024,
                 flushTimeout: Duration = .seconds(2)) {
        self.client = client
        self.reader = reader ?? client
        self.flushTimeout = flushTimeout
        self.capacity = max(1, capacity)
        let queue = ConsumerQueue<MetricSample>(capacity: max(1, capacity))
        self.queue = queue
        let counters = counters
        drain = Task.detached {
            // After a failed batch: 100 ms, doubling up to 5 s; reset by a stored one.
            let pause = Backoff(initialDelay: .milliseconds(100), maxDelay: .seconds(5), multiplier: 2, jitter: 0, maxAttempts: nil)
            var failures = 0
            while let batch = await queue.take() {
                do {
                    let stored = try await client.record(batch, window: window)
                    counters.withLock { $0.stored += stored }
                    failures = 0
                } catch {
                    // Refused, or the store unreachable (a first connect that failed is not
                    // retried by the client): those points are gone. Wait before the next batch,
                    // longer each time, so points meanwhile fill the queue and are dropped.
                    counters.withLock { $0.failed += batch.count }
                    failures += 1
                    try? await Task.sleep(for: pause.delay(beforeAttempt: failures, unitRandom: 0.5) ?? .seconds(5))
                    if Task.isCancelled { return }
                }
            }
        }
    }

    /// A recorder into the MetricStore at `host`:`port` (reconnecting with the client's
    /// default backoff), history read on a connection of its own, 3 s at most per read (an
    /// app's request, 5 s by default, then gets the hub's 503 rather than its own timeout).
    package convenience init(host: String, port: Int, capacity: Int = defaultCapacity) {
        self.init(client: MetricStoreClient(host: host, port: port),
                  reader: MetricStoreClient(host: host, port: port, timeout: .seconds(3)), capacity: capacity)
    }

    /// Points that may wait for the store unless told otherwise.
    package static let defaultCapacity = 65_536

    /// The keys of one sensor a history request without a field reads, at most: a sensor with
    /// more fields has the others recorded, and read by name.
    package static let maxKnownKeysPerSensor = 64

    /// Queues the numbers of readings the hub accepted (never waits).
    /// - Parameters:
    ///   - readings: The readings, with their sensors.
    ///   - receivedAt: When the hub received them, unix milliseconds (their time without `ts`).
    package func record(_ readings: [HubEffects.AcceptedReading], receivedAt: Int64) {
        var dropped = 0
        var skipped = 0
        var wakes: [ConsumerQueue<MetricSample>.Waiter] = []
        var keys: [(sensorID: String, points: [MetricSample])] = []
        keys.reserveCapacity(readings.count)
        for reading in readings {
            let (points, unrecordable) = ReadingHistoryPoints.points(sensorID: reading.sensorID, readings: reading.readings,
                                                                      receivedAt: receivedAt)
            skipped += unrecordable
            keys.append((reading.sensorID, points))
            for point in points {
                let (lost, wake) = queue.push(point)
                if lost { dropped += 1 }
                if let wake { wakes.append(wake) }
            }
        }
        knownKeys.withLock { known in
            for (sensorID, points) in keys {
                for point in points where known[sensorID]?.contains(point.key) != true {
                    guard known[sensorID, default: []].count < Self.maxKnownKeysPerSensor else { break }
                    known[sensorID, default: []].insert(point.key)
                }
            }
        }
        if dropped > 0 || skipped > 0 { counters.withLock { $0.dropped += dropped; $0.skipped += skipped } }
        for wake in wakes { wake.resume() }
    }

    /// Points waiting for the store.
    package var queued: Int { queue.count }
    /// Points that may wait before the oldest are dropped.
    package let capacity: Int
    /// How long ``stop()`` lets what waits go to the store.
    package let flushTimeout: Duration

    /// The current time in unix milliseconds (what ``record(_:receivedAt:)`` takes).
    package static func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// What the recorder did so far.
    package var counts: Counts { counters.withLock { $0 } }

    /// Stops recording: what waits still goes to the store, within ``flushTimeout`` (a store
    /// that is down or slow gets no more time: what is left is dropped and counted; a batch
    /// cut short counts as failed whole, though the store may hold part of it), then the
    /// clients are closed.
    package func stop() async {
        let timeout = flushTimeout
        queue.finish().resume()
        // Whichever comes first: the drain ends, or the time is up (the drain may be waiting
        // for a connect that takes longer: it is cancelled and not waited for).
        if await !waitUntilEnded([drain], atMost: timeout) {
            let left = queue.terminate()
            counters.withLock { $0.dropped += left }
            drain.cancel()
        }
        client.close()
        reader.close()
    }

    deinit {
        queue.terminate()
        drain.cancel()
    }
}
