import ConnectionCore
@testable import FastSlow
import Foundation
import Testing

/// The FastSlow pieces without sockets: the codec on the core's interface, the server's
/// decisions, the client's request line, the config file, the time format.
@Suite("FastSlow logic without sockets")
struct FastSlowLogicTests {
    // MARK: Codec

    /// Feeds `stream` to a codec split at `cut`; returns the messages and failures it reported.
    static func decode(_ stream: [UInt8], cut: Int, maxMessageSize: Int = 1 << 20) -> (messages: [WrapperMessage], failures: [FastSlowStreamFailure], ended: Bool) {
        var codec = FastSlowCodec(maxMessageSize: maxMessageSize)
        var messages: [WrapperMessage] = []
        var failures: [FastSlowStreamFailure] = []
        var ended = false
        for part in [Array(stream[..<cut]), Array(stream[cut...])] {
            var bytes = part
            var events: [CodecEvent] = []
            bytes.withUnsafeMutableBytes { codec.receive($0, into: &events) }
            for event in events {
                switch event {
                case .message(let batch as [WrapperMessage], _): messages += batch
                case .failed(let failure as FastSlowStreamFailure):
                    // A failure ends the input.
                    failures.append(failure)
                    ended = true
                case .inputEnded: ended = true
                default: Issue.record("unexpected event \(event)")
                }
            }
        }
        return (messages, failures, ended)
    }

    @Test("the codec decodes a stream split at every byte, and writes what it reads")
    func codecSplits() throws {
        let messages: [WrapperMessage] = [
            .requestForFastResponse, .requestForSlowResponse(.init(timeInSecondsToSleep: 3)),
            .fastResponse(.init(currentDateTime: String(repeating: "t", count: 200))), .slowResponse(.init(connectedClientCount: 70_000)),
        ]
        var codec = FastSlowCodec(maxMessageSize: 1 << 20)
        for message in messages { try codec.send(message) }
        let stream = codec.takeOutput()
        #expect(stream == messages.flatMap { DelimitedFramer.frame($0.encoded) })
        for cut in 0...stream.count {
            let result = Self.decode(stream, cut: cut)
            #expect(result.messages == messages && result.failures.isEmpty && !result.ended, "cut \(cut)")
        }
    }

    @Test("a bad message or prefix ends the stream after the messages before it", arguments: [
        ("1a00" + "80808080808001", FastSlowStreamFailure.framing(.prefixTooLong)),
        ("1a00" + "e500", .framing(.messageTooLarge(101))),
        ("1a00" + "02" + "0a00", .decoding(.missingRequiredField("FastResponse.current_date_time"))),
        ("1a00" + "02" + "4e00", .decoding(.unsupportedWireType(6))),
        ("1a00" + "00", .decoding(.noMessageSet)),
    ])
    func codecFailures(stream: String, failure: FastSlowStreamFailure) {
        // Small limit for the oversized case; one valid request first, one after that is never read.
        let bytes = DelimitedFramer.frame(WrapperMessage.requestForFastResponse.encoded) + FastSlowCodecTests.hex(String(stream.dropFirst(4)))
            + DelimitedFramer.frame(WrapperMessage.requestForFastResponse.encoded)
        for cut in 0...bytes.count {
            let result = Self.decode(bytes, cut: cut, maxMessageSize: 100)
            #expect(result.messages == [.requestForFastResponse], "cut \(cut)")
            #expect(result.failures == [failure] && result.ended, "cut \(cut)")
        }
    }

    // MARK: Server decisions

    @Test("the server session: fast now, slow later with the count of the moment, responses close, a cap on waiting slow answers")
    func serverSession() {
        var session = FastSlowServerSession(maxPendingSlow: 2)
        #expect(session.received(.requestForFastResponse, connectedClients: 5) == .answerFast)
        #expect(session.received(.requestForSlowResponse(.init(timeInSecondsToSleep: 2)), connectedClients: 5)
                == .answerLater(after: .seconds(2), SlowResponse(connectedClientCount: 5)))
        #expect(session.received(.requestForSlowResponse(.init(timeInSecondsToSleep: 0)), connectedClients: 7)
                == .answerLater(after: .zero, SlowResponse(connectedClientCount: 7)))
        #expect(session.pendingSlow == 2)
        #expect(session.received(.requestForSlowResponse(.init(timeInSecondsToSleep: 1)), connectedClients: 7)
                == .close(reason: "more than 2 slow requests waiting"))
        session.slowAnswered()
        #expect(session.received(.requestForSlowResponse(.init(timeInSecondsToSleep: 1)), connectedClients: 1)
                == .answerLater(after: .seconds(1), SlowResponse(connectedClientCount: 1)))
        #expect(session.received(.fastResponse(.init(currentDateTime: "x")), connectedClients: 1) == .close(reason: "a client sent a FastResponse"))
        #expect(session.received(.slowResponse(.init(connectedClientCount: 1)), connectedClients: 1) == .close(reason: "a client sent a SlowResponse"))
    }

    // MARK: Client request line

    @Test("the request line: one in flight, the next leaves when the answer arrives, in order")
    func requestLineOrder() {
        var line = SerialRequests<String>()
        #expect(line.submit(.fast, "a", now: .zero).send == nil, "not connected: nothing goes out")
        #expect(line.connected(now: .milliseconds(1)) == .fast)
        #expect(line.submit(.slow(seconds: 1), "b", now: .milliseconds(2)).send == nil, "positive control above; the line is busy")
        #expect(line.submit(.fast, "c", now: .milliseconds(3)).send == nil)
        guard case .answered(let waiter, .fast, _, let roundTrip, let next) = line.received(.fastResponse(.init(currentDateTime: "t")), now: .milliseconds(5)) else {
            Issue.record("not answered")
            return
        }
        #expect(waiter == "a" && roundTrip == .milliseconds(4) && next == .slow(seconds: 1))
        guard case .unexpected = line.received(.fastResponse(.init(currentDateTime: "t")), now: .milliseconds(6)) else {
            Issue.record("a fast answer to a slow request must be refused")
            return
        }
        guard case .answered("b", _, .slow(connectedClients: 3), _, .fast?) = line.received(.slowResponse(.init(connectedClientCount: 3)), now: .seconds(1)) else {
            Issue.record("slow not answered")
            return
        }
        guard case .answered("c", _, _, _, nil) = line.received(.fastResponse(.init(currentDateTime: "u")), now: .seconds(1)) else {
            Issue.record("c not answered")
            return
        }
        guard case .unexpected = line.received(.fastResponse(.init(currentDateTime: "v")), now: .seconds(2)) else {
            Issue.record("an answer nobody asked for must be refused")
            return
        }
    }

    @Test("the request line: an abandoned request on the wire keeps the line until its answer; a loss fails it and keeps the queue")
    func requestLineAbandonAndLoss() {
        var line = SerialRequests<String>()
        _ = line.connected(now: .zero)
        let first = line.submit(.slow(seconds: 5), "a", now: .zero)
        let second = line.submit(.fast, "b", now: .zero)
        let third = line.submit(.fast, "c", now: .zero)
        #expect(first.send == .slow(seconds: 5) && second.send == nil)
        #expect(line.abandon(id: first.id) == "a")
        #expect(line.abandon(id: third.id) == "c" && !line.isOutstanding(id: third.id), "a queued one just leaves")
        #expect(line.isOutstanding(id: first.id), "still on the wire")
        guard case .answered(nil, _, _, _, .fast?) = line.received(.slowResponse(.init(connectedClientCount: 1)), now: .seconds(5)) else {
            Issue.record("the abandoned answer frees the line")
            return
        }
        // b is on the wire now; the connection drops.
        let lost = line.connectionLost()
        #expect(lost?.waiter == "b" && lost?.request == .fast)
        #expect(line.submit(.fast, "d", now: .seconds(6)).send == nil, "no connection")
        #expect(line.connected(now: .seconds(7)) == .fast, "d goes out on the next connection; b is not re-sent")
        #expect(line.removeAll() == ["d"])
    }

    // MARK: Config file

    @Test("a config file with comments, blank lines, a relative log file")
    func configFile() throws {
        let text = """
        # FastSlow
        port = 5555   # the port

        host=0.0.0.0
        \tlog_file = logs/fastslow.log\r
        """
        let configuration = try FastSlowServerConfiguration.parse(text, path: "/etc/fs.conf", folder: "/etc")
        #expect(configuration.port == 5555 && configuration.host == "0.0.0.0" && configuration.logFile == "/etc/logs/fastslow.log")
        let defaults = try FastSlowServerConfiguration.parse("port=1", path: "c", folder: "/x")
        #expect(defaults.host == "127.0.0.1" && defaults.logFile == nil && defaults.maxMessageSize == 1 << 20)
        let absolute = try FastSlowServerConfiguration.parse("port=1\nlog_file=/var/log/f.log", path: "c", folder: "/x")
        #expect(absolute.logFile == "/var/log/f.log")
    }

    @Test("config file errors name the file, the line and the key", arguments: [
        ("host = a", FastSlowConfigurationError.missingKey(path: "c.conf", key: "port")),
        ("port = 70000", .badValue(path: "c.conf", line: 1, key: "port", value: "70000", expected: "a port number 0...65535")),
        ("port = five", .badValue(path: "c.conf", line: 1, key: "port", value: "five", expected: "a port number 0...65535")),
        ("port = 1\nspeed = 3", .unknownKey(path: "c.conf", line: 2, key: "speed")),
        ("port = 1\nport = 2", .duplicateKey(path: "c.conf", line: 2, key: "port", firstLine: 1)),
        ("port 5555", .malformedLine(path: "c.conf", line: 1, text: "port 5555")),
        ("port = 1\nhost =", .badValue(path: "c.conf", line: 2, key: "host", value: "", expected: "a host name or address")),
        ("port = 1\nmax_message_size = 0", .badValue(path: "c.conf", line: 2, key: "max_message_size", value: "0", expected: "bytes, 1...67108864")),
    ])
    func configErrors(text: String, error: FastSlowConfigurationError) {
        #expect(throws: error) { try FastSlowServerConfiguration.parse(text, path: "c.conf", folder: "/") }
        #expect(error.description.hasPrefix("c.conf"))
    }

    @Test("a missing config file is an error naming it")
    func missingConfigFile() {
        #expect {
            try FastSlowServerConfiguration.load(path: "/nonexistent/fastslow.conf")
        } throws: { error in
            guard case .unreadable(let path, _) = error as? FastSlowConfigurationError else { return false }
            return path == "/nonexistent/fastslow.conf"
        }
    }

    // MARK: Time format

    @Test("current_date_time: YYYYMMDDThhmmss.fff both ways; malformed text reads as nil")
    func timestamp() throws {
        let stamp = FastSlowTimestamp(year: 1985, month: 10, day: 19, hour: 5, minute: 1, second: 7, millisecond: 333)
        #expect(stamp.text == "19851019T050107.333")
        #expect(FastSlowTimestamp(parsing: "19851019T050107.333") == stamp)
        #expect(FastSlowTimestamp(year: 7, month: 1, day: 2, hour: 3, minute: 4, second: 5, millisecond: 6).text == "00070102T030405.006")
        for bad in ["19851019T050107.33", "19851019 050107.333", "19851319T050107.333", "19851019T250107.333", "1985101xT050107.333", "19851019T050107,333", ""] {
            #expect(FastSlowTimestamp(parsing: bad) == nil, "\(bad)")
        }
        let utc = try #require(TimeZone(identifier: "UTC"))
        #expect(stamp.date(in: utc) == Date(timeIntervalSince1970: 498_546_067.333))
        #expect(FastSlowTimestamp(year: 2026, month: 2, day: 30, hour: 0, minute: 0, second: 0, millisecond: 0).date(in: utc) == nil)
        // now() is local time: read back in the local zone it is within a second of the clock.
        let now = try #require(FastResponse(currentDateTime: FastSlowTimestamp.now().text).date)
        #expect(abs(now.timeIntervalSinceNow) < 1)
    }

    @Test("the server log line: local time, then the text")
    func logLine() {
        let stamp = FastSlowTimestamp(year: 2026, month: 11, day: 26, hour: 3, minute: 4, second: 5, millisecond: 9)
        #expect(FastSlowLog.line("connected 127.0.0.1:4000, 1 client connected", at: stamp) == "2026-11-26 03:04:05.009 connected 127.0.0.1:4000, 1 client connected")
    }
}
