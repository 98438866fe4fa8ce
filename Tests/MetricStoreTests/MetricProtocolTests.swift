import MetricStore
import Testing

/// The metric protocol's sans-I/O pieces: the server's line parser, the store's answers (byte
/// for byte), the client's answer parser.
@Suite("MetricStore protocol without sockets")
struct MetricProtocolTests {
    static func lines(_ text: String) -> [MetricLineParser.Line] {
        var parser = MetricLineParser()
        return parser.parse(Array(text.utf8))
    }

    @Test("the documented transcript, byte for byte (telnet's \\r\\n and extra blanks tolerated)")
    func transcript() {
        var storage = MetricStorage()
        let exchange: [(String, String)] = [
            ("get test_key\r\n", "ok\n\n"),
            ("got test_key\r\n", "error\nwrong command\n\n"),
            ("put test_key 12.0 1503319740\r\n", "ok\n\n"),
            ("put  test_key\t13.0   1503319739 \r\n", "ok\n\n"),
            ("get test_key\r\n", "ok\ntest_key 13.0 1503319739\ntest_key 12.0 1503319740\n\n"),
            ("put another_key 10 1503319739\r\n", "ok\n\n"),
            ("get *\r\n", "ok\ntest_key 13.0 1503319739\ntest_key 12.0 1503319740\nanother_key 10.0 1503319739\n\n"),
        ]
        for (command, expected) in exchange {
            let parsed = Self.lines(command)
            #expect(parsed.count == 1)
            #expect(storage.answer(parsed[0]).text == expected, "\(command.debugDescription)")
        }
    }

    @Test("a put for the same key and second overwrites; keys keep their first-put order")
    func overwrite() {
        var storage = MetricStorage()
        storage.put("b", 1, timestamp: 5)
        storage.put("a", 2, timestamp: 7)
        storage.put("b", 3, timestamp: 5)
        storage.put("b", 4, timestamp: 1)
        #expect(storage.get("*").map(\.line) == ["b 4.0 1\n", "b 3.0 5\n", "a 2.0 7\n"])
        #expect(storage.get("missing").isEmpty)
        #expect(storage.pointCount == 3)
    }

    @Test("values print as Double.description does", arguments: [
        ("10", "10.0"), ("0.5", "0.5"), ("4200000", "4200000.0"), ("1e-5", "1e-05"), ("1e16", "1e+16"), ("-1.5", "-1.5"), ("+5", "5.0"), (".5", "0.5"), ("5.", "5.0"), ("1E3", "1000.0"),
    ])
    func valueFormatting(input: String, printed: String) {
        var storage = MetricStorage()
        _ = storage.answer(Self.lines("put k \(input) 1\n")[0])
        #expect(storage.answer(Self.lines("get k\n")[0]).text == "ok\nk \(printed) 1\n\n")
    }

    @Test("wrong commands of every kind", arguments: [
        "", "   ", "\r", "PUT k 1 1", "Get k", "put k 1", "put k 1 1 1", "get", "get a b", "put * 1 1",
        "put k nan 1", "put k inf 1", "put k -inf 1", "put k 0x10 1", "put k 1e 1", "put k e3 1", "put k . 1", "put k 1.5.2 1",
        "put k 1e400 1", "put k 1 1.5", "put k 1 abc", "put k 1 9223372036854775808", "put k 1 -9223372036854775809", "put k 1 +",
        "put k 1 --1", "put k 1 1e3", "hello",
        "get k 1", "get k 1 2 3", "get k a 2", "get k 1 b", "get k 1.5 2", "get k 1 9223372036854775808", "get k -9223372036854775809 1",
        "get k + 1", "get k 1e3 5",
    ])
    func wrongCommands(line: String) {
        #expect(Self.lines(line + "\n") == [.wrong], "\(line.debugDescription)")
    }

    @Test("accepted edge cases")
    func accepted() {
        #expect(Self.lines("put k -1e3 -9223372036854775808\n") == [.command(.put(key: "k", value: -1000, timestamp: .min))])
        #expect(Self.lines("put k 5 +9223372036854775807\n") == [.command(.put(key: "k", value: 5, timestamp: .max))])
        #expect(Self.lines("put é.ü 1 1\n") == [.command(.put(key: "é.ü", value: 1, timestamp: 1))])
        #expect(Self.lines("get *\n") == [.command(.get(key: "*"))])
        #expect(Self.lines("get k 1503319739 1503319740\n") == [.command(.getRange(key: "k", from: 1503319739, to: 1503319740))])
        #expect(Self.lines("get * -9223372036854775808 +9223372036854775807\r\n") == [.command(.getRange(key: "*", from: .min, to: .max))])
        #expect(Self.lines("get\tk  5 \t3 \n") == [.command(.getRange(key: "k", from: 5, to: 3))], "from after to parses (the answer is empty)")
    }

    @Test("invalid UTF-8 in a key is a wrong command")
    func invalidUTF8() {
        var parser = MetricLineParser()
        #expect(parser.parse(Array("put ".utf8) + [0xFF, 0xFE] + Array(" 1 1\n".utf8)) == [.wrong])
    }

    @Test("a stream of commands split at every byte boundary parses the same as in one read")
    func splitEverywhere() {
        let stream = Array("put a 1 1\r\nget a\nbogus\n\nput  b\t2.5  3 \nget *\nget a -1 +17\r\n".utf8)
        var whole = MetricLineParser()
        let expected = whole.parse(stream)
        #expect(expected.count == 7)
        #expect(expected.last == .command(.getRange(key: "a", from: -1, to: 17)))
        for cut in 0...stream.count {
            var parser = MetricLineParser()
            let lines = parser.parse(Array(stream[..<cut])) + parser.parse(Array(stream[cut...]))
            #expect(lines == expected, "cut at \(cut)")
        }
        // And one byte at a time.
        var parser = MetricLineParser()
        #expect(stream.flatMap { parser.parse([$0]) } == expected)
    }

    @Test("a line over the limit is reported once it passes the limit, and the parser stops")
    func lineLimit() {
        var parser = MetricLineParser(maxLineLength: 16)
        #expect(parser.parse(Array("get 012345678901".utf8)) == [], "16 bytes: not over yet")
        #expect(parser.parse(Array("\n".utf8)) == [.command(.get(key: "012345678901"))])
        #expect(parser.parse(Array("get 0123456789012".utf8)) == [.tooLong], "17 bytes without a newline: over")
        #expect(parser.isStopped)
        #expect(parser.parse(Array("get a\n".utf8)) == [], "nothing after the stop")
        var oneRead = MetricLineParser(maxLineLength: 16)
        #expect(oneRead.parse(Array("get a\nget 0123456789012\nget b\n".utf8)) == [.command(.get(key: "a")), .tooLong])
    }

    @Test("the client's answer parser reads what the store writes, split at every byte boundary")
    func answerParser() throws {
        let answers: [MetricAnswer] = [
            .ok([]), .error("wrong command"),
            .ok([MetricRecord(key: "test_key", point: MetricPoint(timestamp: 1503319739, value: 13)),
                 MetricRecord(key: "a b", point: MetricPoint(timestamp: -5, value: 1e-5))]),
            .ok([MetricRecord(key: "x", point: MetricPoint(timestamp: 0, value: 4_200_000))]),
        ]
        let stream = Array(answers.map(\.text).joined().utf8)
        for cut in 0...stream.count {
            var parser = MetricAnswerParser()
            let parsed = try parser.parse(Array(stream[..<cut])) + parser.parse(Array(stream[cut...]))
            #expect(parsed == answers, "cut at \(cut)")
        }
    }

    @Test("malformed answers are failures", arguments: ["OK\n\n", "ok\nkey 1.0\n\n", "ok\nkey nan 1\n\n", "ok\nkey 1.0 1.5\n\n", "\n"])
    func malformedAnswers(text: String) {
        var parser = MetricAnswerParser()
        #expect(throws: MetricAnswerParser.Failure.self) { try parser.parse(Array(text.utf8)) }
    }

    @Test("the byte writers spell exactly what the text forms do")
    func byteWriters() {
        let commands: [MetricCommand] = [.put(key: "k.é", value: -1e-5, timestamp: .min), .put(key: "a", value: 4_200_000, timestamp: .max),
                                         .put(key: "z", value: 0, timestamp: 0), .get(key: "*"),
                                         .getRange(key: "k", from: .min, to: .max), .getRange(key: "*", from: -7, to: 0)]
        for command in commands {
            var bytes: [UInt8] = []
            command.append(to: &bytes)
            #expect(bytes == Array(command.line.utf8))
        }
        let answers: [MetricAnswer] = [.ok([]), .error("wrong command"),
                                       .ok([MetricRecord(key: "k", point: MetricPoint(timestamp: -17, value: 1e16)),
                                            MetricRecord(key: "é", point: MetricPoint(timestamp: 1503319739, value: 13))])]
        for answer in answers {
            var bytes: [UInt8] = []
            answer.append(to: &bytes)
            #expect(bytes == Array(answer.text.utf8))
        }
    }
}
