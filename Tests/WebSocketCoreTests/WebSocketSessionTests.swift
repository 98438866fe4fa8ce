import Testing
import TestSupport
@testable import WebSocketCore
import UTF8Validation

@Suite("Session: messages, control frames and the close handshake")
struct WebSocketSessionTests {
    func client(maxMessage: Int = 1 << 20) -> WebSocketSession {
        WebSocketSession(role: .client, configuration: .init(maxFrameSize: maxMessage, maxMessageSize: maxMessage),
                         maskingKeys: FixedMaskingKeys([rfcKey]))
    }

    func server(maxMessage: Int = 1 << 20) -> WebSocketSession {
        WebSocketSession(role: .server, configuration: .init(maxFrameSize: maxMessage, maxMessageSize: maxMessage))
    }

    @Test("a client masks what it sends with the key source; a server does not mask")
    func sendBytes() throws {
        var session = client()
        try session.sendText("Hello")
        #expect(session.takePendingOutput() == hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"))
        var serverSession = server()
        try serverSession.sendText("Hello")
        #expect(serverSession.takePendingOutput() == hex("81 05 48 65 6c 6c 6f"))
    }

    @Test("fragmented text with a ping between the fragments: pong at once, message whole")
    func fragmentsAndPing() {
        var session = client()
        let events = session.feed(frame(.text, "Hel", fin: false) + frame(.ping, "pi") + frame(.continuation, "lo"))
        #expect(events == [.ping(Array("pi".utf8)), .text("Hello")])
        #expect(session.takePendingOutput() == frame(.pong, Array("pi".utf8), key: rfcKey))
    }

    @Test("a code point split across fragments is valid")
    func splitCodePoint() {
        var session = client()
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let events = session.feed(frame(.text, [euro[0]], fin: false) + frame(.continuation, [euro[1]], fin: false)
                                  + frame(.continuation, [euro[2]]))
        #expect(events == [.text("€")])
    }

    @Test("messages of every size class arrive intact through every chunking")
    func messageSizes() {
        var generator = SeededGenerator(seed: 3)
        for size in [0, 1, 125, 126, 65535, 65536] {
            let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let wire = frame(.binary, payload, key: rfcKey)
            for maxChunk in [3, 1000, 70000] {
                var session = server()
                let events = session.feed(randomChunks(wire, maxChunk: maxChunk, using: &generator))
                #expect(events == [.binary(payload)], "size \(size) chunk \(maxChunk)")
            }
        }
    }

    // MARK: Protocol violations and their close codes

    struct Violation: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let error: WebSocketProtocolError
        var testDescription: String { name }
    }

    static let violations: [Violation] = [
        Violation(name: "reserved bit", bytes: frame(.text, Array("a".utf8), rsv: 4), error: .reservedBitsSet(4)),
        Violation(name: "unknown opcode", bytes: [0x83, 0x00], error: .unknownOpcode(3)),
        Violation(name: "masked frame from the server", bytes: frame(.text, "a", key: rfcKey), error: .unexpectedMask),
        Violation(name: "fragmented control frame", bytes: frame(.ping, [], fin: false), error: .fragmentedControlFrame),
        Violation(name: "control frame over 125 bytes", bytes: frame(.ping, [UInt8](repeating: 0, count: 126)), error: .controlFrameTooLong(126)),
        Violation(name: "continuation without start", bytes: frame(.continuation, "a"), error: .unexpectedContinuation),
        Violation(name: "new message inside a fragmented one", bytes: frame(.text, "a", fin: false) + frame(.text, "b"), error: .expectedContinuation),
        Violation(name: "invalid UTF-8", bytes: frame(.text, [0xCE, 0xBA, 0xFF]), error: .invalidUTF8),
        Violation(name: "truncated UTF-8 at message end", bytes: frame(.text, [0xCE]), error: .invalidUTF8),
        Violation(name: "invalid UTF-8 in a later fragment", bytes: frame(.text, "ok", fin: false) + frame(.continuation, [0xC0, 0x80]), error: .invalidUTF8),
        Violation(name: "frame over the limit", bytes: frame(.binary, [UInt8](repeating: 0, count: 2000)), error: .frameTooLarge(2000, limit: 1000)),
        Violation(name: "message over the limit", bytes: frame(.binary, [UInt8](repeating: 0, count: 600), fin: false)
                  + frame(.continuation, [UInt8](repeating: 0, count: 600)), error: .messageTooLarge(limit: 1000)),
        Violation(name: "close with a 1-byte payload", bytes: frame(.close, [0x03]), error: .invalidClosePayload),
        Violation(name: "close with code 1005", bytes: frame(.close, [0x03, 0xED]), error: .invalidCloseCode(1005)),
        Violation(name: "close with code 999", bytes: frame(.close, [0x03, 0xE7]), error: .invalidCloseCode(999)),
        Violation(name: "close with code 5000", bytes: frame(.close, [0x13, 0x88]), error: .invalidCloseCode(5000)),
        Violation(name: "close reason not UTF-8", bytes: frame(.close, [0x03, 0xE8, 0xFF]), error: .invalidUTF8),
    ]

    @Test("each violation fails the connection with its close code, after the message before it", arguments: violations)
    func violation(_ violation: Violation) {
        var session = client(maxMessage: 1000)
        let events = session.feed(frame(.text, "before") + violation.bytes + frame(.text, "after"))
        #expect(events == [.text("before"), .failed(violation.error)])
        #expect(!session.isReading)
        #expect(session.pendingOutputCount == 0, "the close waits for finishClosing()")
        #expect(session.canSend, "the application may still answer what came before")
        session.finishClosing()
        let code = violation.error.closeCode.rawValue
        let expectedClose = frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(violation.error.description.utf8), key: rfcKey)
        #expect(session.takePendingOutput() == expectedClose)
        #expect(session.closure?.error == violation.error)
        #expect(session.feed(frame(.text, "later")) == [], "nothing is read after a failure")
    }

    @Test("the violation is found however the bytes are split", arguments: violations)
    func violationSplit(_ violation: Violation) {
        let wire = frame(.text, "before") + violation.bytes
        for cut in 0...wire.count {
            var session = client(maxMessage: 1000)
            let events = session.feed(split(wire, at: [cut]))
            #expect(events == [.text("before"), .failed(violation.error)], "cut at \(cut)")
        }
    }

    @Test("close codes: 1002, 1007 and 1009 on the wire")
    func closeCodes() {
        #expect(WebSocketProtocolError.unknownOpcode(3).closeCode.rawValue == 1002)
        #expect(WebSocketProtocolError.invalidUTF8.closeCode.rawValue == 1007)
        #expect(WebSocketProtocolError.messageTooLarge(limit: 1).closeCode.rawValue == 1009)
        #expect(WebSocketProtocolError.frameTooLarge(2, limit: 1).closeCode.rawValue == 1009)
    }

    // MARK: Close handshake

    @Test("peer-initiated close: the reply echoes the code once the owner finishes closing")
    func peerClose() throws {
        var session = client()
        let events = session.feed(frame(.text, "last") + frame(.close, [0x03, 0xE8] + Array("bye".utf8)) + frame(.text, "ignored"))
        #expect(events == [.text("last"), .closeReceived(WebSocketCloseFrame(code: .normalClosure, reason: "bye"))])
        #expect(session.needsFinishClosing)
        try session.sendText("echo")  // still allowed before our close
        session.finishClosing()
        #expect(session.takePendingOutput() == frame(.text, "echo", key: rfcKey) + frame(.close, [0x03, 0xE8], key: rfcKey))
        #expect(session.closure == .init(code: .normalClosure, reason: "bye", initiator: .remote, error: nil, isClean: true))
        #expect(throws: WebSocketSession.SendError.closed) { try session.sendText("too late") }
    }

    @Test("an empty close is answered with an empty close")
    func emptyClose() {
        var session = server()
        #expect(session.feed(frame(.close, [], key: rfcKey)) == [.closeReceived(WebSocketCloseFrame(code: nil))])
        session.finishClosing()
        #expect(session.takePendingOutput() == hex("88 00"))
        #expect(session.closure?.code == .noStatusReceived)
    }

    @Test("a close between fragments ends the connection normally (Autobahn 7.1.5)")
    func closeBetweenFragments() {
        var session = client()
        let events = session.feed(frame(.text, "frag", fin: false) + frame(.close, [0x03, 0xE8]) + frame(.continuation, "ment"))
        #expect(events == [.closeReceived(WebSocketCloseFrame(code: .normalClosure))])
        session.finishClosing()
        #expect(session.takePendingOutput() == frame(.close, [0x03, 0xE8], key: rfcKey))
    }

    @Test("locally initiated close: messages still arrive until the peer's close completes it")
    func localClose() throws {
        var session = server()
        let first = session.close(WebSocketCloseFrame(code: .goingAway, reason: "restart"))
        let second = session.close()
        #expect(first)
        #expect(!second, "a second close sends nothing")
        #expect(session.takePendingOutput() == frame(.close, [0x03, 0xE9] + Array("restart".utf8)))
        #expect(throws: WebSocketSession.SendError.closed) { try session.sendText("x") }
        let events = session.feed(frame(.text, "in flight", key: rfcKey) + frame(.ping, [1], key: rfcKey) + frame(.close, [0x03, 0xE9], key: rfcKey))
        #expect(events == [.text("in flight"), .ping([1]), .closeReceived(WebSocketCloseFrame(code: .goingAway))])
        #expect(session.pendingOutputCount == 0, "no pong and no second close after our close")
        #expect(session.closure == .init(code: .goingAway, reason: "", initiator: .local, error: nil, isClean: true))
    }

    @Test("the reason is cut to 123 bytes at a character boundary")
    func longReason() {
        let frame = WebSocketCloseFrame(code: .normalClosure, reason: String(repeating: "é", count: 100))
        #expect(frame.payload.count == 2 + 122)
        #expect(UTF8Validator.isValid(Array(frame.payload.dropFirst(2))))
    }

    @Test("valid close codes are accepted and echoed", arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] as [UInt16])
    func validCodes(code: UInt16) {
        var session = client()
        #expect(session.feed(frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)])) == [.closeReceived(WebSocketCloseFrame(code: .init(code)))])
        session.finishClosing()
        #expect(session.takePendingOutput() == frame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)], key: rfcKey))
    }

    @Test("a lost transport ends the session as 1006")
    func transportLost() {
        var session = client()
        session.transportClosed()
        #expect(session.closure == .init(code: .abnormalClosure, reason: "", initiator: .remote, error: nil, isClean: false))
        #expect(!session.isReading && !session.canSend)
    }

    @Test("pings: at most 125 bytes; partial writes keep the rest queued")
    func pingsAndPartialWrites() throws {
        var session = server()
        #expect(throws: WebSocketSession.SendError.controlPayloadTooLong) { try session.sendPing([UInt8](repeating: 0, count: 126)) }
        try session.sendPing([1, 2, 3])
        try session.sendBinary([9, 9])
        #expect(session.writePendingOutput { _ in 2 } == 2)
        #expect(session.takePendingOutput() == [1, 2, 3] + frame(.binary, [9, 9]))
    }
}

@Suite("Robustness: random input never crashes")
struct FuzzTests {
    @Test("random bytes end in events, a need for more bytes, or a protocol error")
    func randomBytes() async {
        var generator = SeededGenerator(seed: 0xC0FFEE)
        for round in 0..<20_000 {
            // CPU-bound: let the loopback tests running beside this one have the threads too.
            if round % 200 == 0 { await Task.yield() }
            let length = Int.random(in: 0...200, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Bias some rounds towards plausible headers so deeper states are reached.
            if round % 2 == 0, !bytes.isEmpty {
                bytes[0] = [0x81, 0x82, 0x01, 0x00, 0x80, 0x89, 0x8A, 0x88][round % 8]
                if bytes.count > 1 { bytes[1] &= round % 4 == 0 ? 0xFF : 0x7F }
            }
            for role in [WebSocketSession.Role.client, .server] {
                var session = WebSocketSession(role: role, configuration: .init(maxFrameSize: 1 << 16, maxMessageSize: 1 << 16))
                let events = session.feed(randomChunks(bytes, maxChunk: 17, using: &generator))
                // A failure or a close is always the last event.
                for event in events.dropLast() {
                    if case .failed = event { Issue.record("failure before the last event") }
                    if case .closeReceived = event { Issue.record("close before the last event") }
                }
                session.finishClosing()
                _ = session.takePendingOutput()
            }
        }
    }
}
