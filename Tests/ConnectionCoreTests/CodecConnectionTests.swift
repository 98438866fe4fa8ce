import Testing
@testable import ConnectionCore

/// Digits, one message per read; anything else is a failure that ends the input.
struct DigitsCodec: BufferedTransportCodec, MessageCodec {
    typealias Inbound = [Int]
    /// Text, as it is (the test's peer is a line echo server).
    typealias Outbound = String
    struct NotADigit: Error, Equatable { let byte: UInt8 }
    typealias Failure = NotADigit

    var output: [UInt8] = []
    var closed = false
    private var failed = false

    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {
        guard !failed else { return }
        var digits: [Int] = []
        for byte in input {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                if !digits.isEmpty { events.append(.message(digits, byteCount: digits.count)) }
                failed = true
                events.append(.failed(NotADigit(byte: byte)))
                return
            }
            digits.append(Int(byte - UInt8(ascii: "0")))
        }
        if !digits.isEmpty { events.append(.message(digits, byteCount: input.count)) }
    }

    mutating func queue(_ message: String) throws(ConnectionError) {
        guard !closed else { throw .closed }
        output += Array(message.utf8)
    }

    var isReading: Bool { !closed && !failed }
}

@Suite("The typed codec contract: messages and failures by type, casts only in the core")
struct CodecConnectionTests {
    let configuration = ConnectionConfiguration()

    /// Feeds `text` to `state` and takes what the consumer would, typed.
    func receive(_ text: String, into state: inout StreamConnectionState) -> [CodecConnection<DigitsCodec>.Item] {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { state.process($0, configuration: configuration) }
        var wake = false
        return state.takeQueuedMessages(limit: .max, configuration: configuration, wake: &wake).compactMap(CodecConnection<DigitsCodec>.item)
    }

    @Test("a failure reaches the consumer as .failed, after the messages before it, then the end; the plan stops reading, and nothing after it is delivered")
    func failureAfterMessages() {
        var state = StreamConnectionState(codec: DigitsCodec(), handshake: nil)
        let first = receive("12", into: &state)
        guard case .message([1, 2])? = first.first, first.count == 1 else {
            Issue.record("positive control: \(first)")
            return
        }
        let second = receive("3x45", into: &state)
        guard second.count == 2, case .message([3]) = second[0], case .failed(let failure) = second[1] else {
            Issue.record("expected [3] then the failure: \(second)")
            return
        }
        #expect(failure == DigitsCodec.NotADigit(byte: UInt8(ascii: "x")))
        var wake = false
        guard case .end = state.takeNext(configuration: configuration, wake: &wake) else {
            Issue.record("the end follows the failure")
            return
        }
        guard case .watch(let interest, _) = state.plan(configuration: configuration) else {
            Issue.record("a failure ends the input, not the connection: its end is the consumer's and the peer's")
            return
        }
        #expect(!interest.contains(.readable), "the socket is no longer read")
        #expect(receive("67", into: &state).isEmpty, "the input ended at the failure")
    }

    @Test("the untyped send checks the type once, in the core: an Outbound is encoded, anything else refused with both types named")
    func untypedSendIsChecked() throws {
        var codec = DigitsCodec()
        try codec.send("42")
        #expect(codec.takeOutput() == Array("42".utf8))
        #expect(throws: ConnectionError.rejected("DigitsCodec sends String, not Int")) { try codec.send(42) }
        #expect(codec.takeOutput().isEmpty, "nothing queued for the refused message")
    }

    @Test("a typed connection on loopback: sends Outbound, receives Inbound, then the failure, then the end")
    func loopback() async throws {
        let loop = EventLoop(name: "typed")
        let server = try LineEchoServer(loop: loop)
        defer { server.listener.stop() }
        let stream = try await StreamConnector.open(host: "127.0.0.1", port: server.listener.port, codec: DigitsCodec(), handshake: nil,
                                                    timeout: .seconds(5), loop: loop)
        let connection = CodecConnection<DigitsCodec>(stream)
        try await connection.send("78")
        try await stream.send("90\n")  // the untyped core path, checked the same way
        // The server echoes the line "7890"; the newline after it is not a digit.
        var digits: [Int] = []
        var failure: DigitsCodec.NotADigit?
        while failure == nil, let item = await connection.receive() {
            switch item {
            case .message(let received): digits += received
            case .failed(let error): failure = error
            }
        }
        #expect(digits == [7, 8, 9, 0])
        #expect(failure == DigitsCodec.NotADigit(byte: UInt8(ascii: "\n")))
        let end = await connection.receive()
        #expect(end == nil, "the end after the failure")
        await #expect(throws: ConnectionError.rejected("DigitsCodec sends String, not Int")) { try await stream.send(1) }
        #expect(connection == CodecConnection<DigitsCodec>(stream), "equal by identity")
        _ = await stream.close("bye")
    }
}
