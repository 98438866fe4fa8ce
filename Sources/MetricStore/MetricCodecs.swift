import ConnectionCore

/// The server's side of the protocol as a codec for the shared connection core: received
/// bytes become ``MetricLineParser/Line``s; answers go out as bytes the server rendered. No
/// handshake, no probe; closing is closing TCP once the output is written.
struct MetricServerCodec: BufferedTransportCodec, MessageCodec {
    /// The lines one read completed, in order.
    typealias Inbound = [MetricLineParser.Line]
    /// Answers, encoded (a batch's `ok` lines, a `get`'s points).
    typealias Outbound = [UInt8]

    private var parser: MetricLineParser
    var output: [UInt8] = []
    var closed = false

    init(maxLineLength: Int) {
        parser = MetricLineParser(maxLineLength: maxLineLength)
    }

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !closed, !parser.isStopped else { return }
        var lines: [MetricLineParser.Line] = []
        parser.parse(UnsafeRawBufferPointer(input), into: &lines)
        // One event per read: the lines in order, accounted by the bytes they came in.
        if !lines.isEmpty { events.append(.message(lines, byteCount: input.count)) }
        if parser.isStopped { events.append(.inputEnded) }
    }

    mutating func queue(_ message: [UInt8]) throws(ConnectionError) {
        guard !closed else { throw .closed }
        output += message
    }

    var isReading: Bool { !closed && !parser.isStopped }
}

/// The client's side: ``MetricCommand``s and recorded samples go out as lines; received bytes
/// become the answers one read completed (runs of put answers counted), or one
/// ``MetricAnswerParser/Failure`` after which nothing is read.
struct MetricClientCodec: BufferedTransportCodec, MessageCodec {
    /// The answers one read completed, in order.
    typealias Inbound = [MetricAnswerParser.Run]
    typealias Outbound = MetricClientOutput
    typealias Failure = MetricAnswerParser.Failure

    private var parser = MetricAnswerParser()
    var output: [UInt8] = []
    var closed = false
    private var failed = false

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !closed, !failed else { return }
        // One event per read: the answers it completed, in order (one box for the lot instead
        // of one per answer: a pipelined put's answer is five bytes).
        var answers: [MetricAnswerParser.Run] = []
        do throws(MetricAnswerParser.Failure) {
            try parser.parse(UnsafeRawBufferPointer(input), into: &answers)
            if !answers.isEmpty { events.append(.message(answers, byteCount: input.count)) }
        } catch {
            if !answers.isEmpty { events.append(.message(answers, byteCount: input.count)) }
            failed = true
            events.append(.failed(error))
        }
    }

    mutating func queue(_ message: MetricClientOutput) throws(ConnectionError) {
        guard !closed else { throw .closed }
        switch message {
        case .command(let command): command.append(to: &output)
        case .commands(let commands): for command in commands { command.append(to: &output) }
        case .puts(let samples):
            output.reserveCapacity(output.count + samples.count * 32)
            for sample in samples {
                output.append(contentsOf: "put ".utf8)
                appendRecordLine(key: sample.key, value: sample.value, timestamp: Int64(sample.timestamp), to: &output)
            }
        }
    }

    var isReading: Bool { !closed && !failed }
}

/// What the metrics client sends on a connection.
enum MetricClientOutput: Sendable {
    /// One command.
    case command(MetricCommand)
    /// Commands in order (a replay).
    case commands([MetricCommand])
    /// Puts of recorded samples, in order (checked by the recorder).
    case puts(ArraySlice<MetricSample>)
}
