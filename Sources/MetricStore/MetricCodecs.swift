import ConnectionCore

/// The server's side of the protocol as a codec for the shared connection core: received
/// bytes become ``MetricLineParser/Line``s; ``MetricAnswer``s (or pre-rendered answer bytes)
/// go out. No handshake, no probe; closing is closing TCP once the output is written.
struct MetricServerCodec: BufferedTransportCodec {
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

    mutating func send(_ message: any Sendable) throws(ConnectionError) {
        guard !closed else { throw .closed }
        switch message {
        case let bytes as [UInt8]: output += bytes
        case let answer as MetricAnswer: answer.append(to: &output)
        default: throw .rejected("not a metric answer")
        }
    }

    var isReading: Bool { !closed && !parser.isStopped }
}

/// The client's side: ``MetricCommand``s go out as lines; received bytes become arrays of
/// ``MetricAnswer``s (one per read), or one ``MetricAnswerParser/Failure`` after which nothing
/// is read.
struct MetricClientCodec: BufferedTransportCodec {
    private var parser = MetricAnswerParser()
    var output: [UInt8] = []
    var closed = false
    private var failed = false

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !closed, !failed else { return }
        // One event per read: the answers it completed, in order (one box for the lot instead
        // of one per answer: a pipelined put's answer is five bytes).
        var answers: [MetricAnswer] = []
        do throws(MetricAnswerParser.Failure) {
            try parser.parse(UnsafeRawBufferPointer(input), into: &answers)
            if !answers.isEmpty { events.append(.message(answers, byteCount: input.count)) }
        } catch {
            if !answers.isEmpty { events.append(.message(answers, byteCount: input.count)) }
            failed = true
            events.append(.message(error, byteCount: 0))
            events.append(.inputEnded)
        }
    }

    mutating func send(_ message: any Sendable) throws(ConnectionError) {
        guard !closed else { throw .closed }
        switch message {
        case let command as MetricCommand: command.append(to: &output)
        case let commands as [MetricCommand]: for command in commands { command.append(to: &output) }
        default: throw .rejected("not a metric command")
        }
    }

    var isReading: Bool { !closed && !failed }
}
