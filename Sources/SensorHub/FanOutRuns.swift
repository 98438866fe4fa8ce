import SensorWire
import WebSocketCore

/// A batch of deliveries arranged for writing: consecutive messages of one kind to the same
/// recipients form a run, framed once (``EncodedTextMessages``); each recipient gets the runs
/// it is among, in order. A batch of one sensor's readings is one run, however many
/// subscribers it has: the fan-out costs one framing, and per subscriber one copy and one
/// write.
struct FanOutRuns {
    /// Messages of one kind, in order, for the same recipients.
    struct Run {
        var messages: EncodedTextMessages
        /// Readings (dropped for a slow subscriber), or statuses and answers (never dropped).
        var isReading: Bool
    }

    /// One recipient and the runs it gets, in order.
    struct Recipient {
        var peer: HubState.PeerID
        var runs: [Int]
    }

    private(set) var runs: [Run] = []
    /// Every recipient once, in the order of its first message.
    private(set) var recipients: [Recipient] = []
    /// Readings delivered in all (one per recipient).
    private(set) var readingCount = 0

    init(_ deliveries: [HubState.Delivery]) {
        var texts: [[String]] = []
        var kinds: [(isReading: Bool, recipients: [HubState.PeerID])] = []
        for delivery in deliveries {
            let isReading = if case .sensorData = delivery.message { true } else { false }
            if isReading { readingCount += delivery.recipients.count }
            // Arrays of one sensor's subscribers share storage: `==` answers on its identity
            // fast path; other arrays are compared element by element.
            if let last = kinds.last, last.isReading == isReading, last.recipients == delivery.recipients {
                texts[texts.count - 1].append(delivery.message.encodedText)
            } else {
                kinds.append((isReading, delivery.recipients))
                texts.append([delivery.message.encodedText])
            }
        }
        runs = zip(texts, kinds).map { Run(messages: EncodedTextMessages($0, framed: $1.recipients.count > 1), isReading: $1.isReading) }
        if kinds.count == 1 {
            recipients = kinds[0].recipients.map { Recipient(peer: $0, runs: [0]) }
            return
        }
        var indexByPeer: [HubState.PeerID: Int] = [:]
        for (run, kind) in kinds.enumerated() {
            for peer in kind.recipients {
                if let index = indexByPeer[peer] {
                    recipients[index].runs.append(run)
                } else {
                    indexByPeer[peer] = recipients.count
                    recipients.append(Recipient(peer: peer, runs: [run]))
                }
            }
        }
    }
}
