import Locking
import Testing
@testable import ConnectionCore

/// A handshake that refuses whatever it reads, replying `refused\n`.
private struct RefusingHandshake: StreamHandshake {
    struct Refusal: Error {}
    func initialOutput() -> [UInt8] { Array("hello\n".utf8) }
    mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress {
        input.isEmpty ? .needMore : .failed(reply: Array("refused\n".utf8), error: Refusal())
    }
}

/// A greeting split over reads: complete once the bytes seen so far end with `greet\n`.
private struct AccumulatingGreeting: StreamHandshake {
    var seen: [UInt8] = []
    func initialOutput() -> [UInt8] { [] }
    mutating func receive(_ input: UnsafeRawBufferPointer) -> HandshakeProgress {
        seen += input
        return seen.suffix(6).elementsEqual("greet\n".utf8) ? .complete(reply: [], leftover: [], result: seen.count) : .needMore
    }
}

/// A codec whose close waits for the peer's answer (as a WebSocket client's does): this side's
/// close leaves it open, not closed.
private struct AnsweredCloseCodec: TransportClosingCodec {
    var closing = false
    mutating func receive(_ input: UnsafeMutableRawBufferPointer, into events: inout [CodecEvent]) {}
    mutating func send(_ message: any Sendable) throws(ConnectionError) { throw .rejected("sends nothing") }
    mutating func startClose(_ request: any Sendable) { closing = true }
    var isReading: Bool { true }
    mutating func takeOutput() -> [UInt8] { [] }
    var isClosed: Bool { false }
    mutating func transportClosed() -> any Sendable { "ended" }
}

@Suite("StreamLifecycle: handshaking -> open -> closing -> finished, never back")
struct StreamLifecycleTests {
    typealias Closing = StreamLifecycle.Closing

    static let handshaking = StreamLifecycle.handshaking(.init(handshake: WaitForGreeting(), deadline: nil))
    static let open = StreamLifecycle.open(.init(closeDeadline: nil))
    static func closing(_ cause: Closing.Cause, afterOpen: Bool, failure: ConnectFailure? = nil) -> StreamLifecycle {
        .closing(.init(cause: cause, handshakeCompleted: afterOpen, handshakeFailure: failure, deadline: nil))
    }
    static let finished = StreamLifecycle.finished(closure: "closed")

    /// Every step a connection takes, each with the steps that may follow it.
    static let forward: [(from: StreamLifecycle, to: StreamLifecycle)] = [
        (handshaking, handshaking), (handshaking, open),
        (handshaking, closing(.refused, afterOpen: false, failure: .timedOut)),
        (handshaking, closing(.dropped(reset: false), afterOpen: false)),
        (handshaking, closing(.dropped(reset: true), afterOpen: false, failure: .timedOut)),
        (open, open), (open, closing(.protocolClosed, afterOpen: true)), (open, closing(.dropped(reset: true), afterOpen: true)),
        (closing(.refused, afterOpen: false, failure: .timedOut), closing(.dropped(reset: false), afterOpen: false, failure: .cancelled)),
        (closing(.dropped(reset: false), afterOpen: false), closing(.dropped(reset: false), afterOpen: false, failure: .cancelled)),
        (closing(.protocolClosed, afterOpen: true), closing(.protocolClosed, afterOpen: true)),
        (closing(.protocolClosed, afterOpen: true), closing(.dropped(reset: true), afterOpen: true)),
        (closing(.dropped(reset: false), afterOpen: true), closing(.dropped(reset: true), afterOpen: true)),
        (closing(.refused, afterOpen: false, failure: .timedOut), finished),
        (closing(.protocolClosed, afterOpen: true), finished),
        (closing(.dropped(reset: true), afterOpen: true), finished),
    ]

    /// Steps back, or steps that skip saying why the connection ends.
    static let backward: [(from: StreamLifecycle, to: StreamLifecycle)] = [
        (open, handshaking), (closing(.dropped(reset: false), afterOpen: true), open),
        (closing(.refused, afterOpen: false, failure: .timedOut), handshaking),
        (finished, finished), (finished, open), (finished, closing(.dropped(reset: true), afterOpen: true)),
        (handshaking, finished), (open, finished),
        (closing(.dropped(reset: true), afterOpen: true), closing(.dropped(reset: false), afterOpen: true)),
        (closing(.dropped(reset: false), afterOpen: true), closing(.protocolClosed, afterOpen: true)),
        (closing(.protocolClosed, afterOpen: true), closing(.refused, afterOpen: true)),
        (open, closing(.refused, afterOpen: true)),
        (open, closing(.dropped(reset: false), afterOpen: false)),
        (open, closing(.dropped(reset: false), afterOpen: true, failure: .timedOut)),
        (handshaking, closing(.protocolClosed, afterOpen: false)),
        (handshaking, closing(.dropped(reset: false), afterOpen: true)),
        (closing(.dropped(reset: false), afterOpen: false), closing(.dropped(reset: false), afterOpen: true)),
        (closing(.protocolClosed, afterOpen: true), closing(.dropped(reset: false), afterOpen: true, failure: .timedOut)),
    ]

    @Test("every forward step is allowed, every step back refused", arguments: 0..<max(forward.count, backward.count))
    func allowedSteps(index: Int) {
        if index < Self.forward.count {
            let step = Self.forward[index]
            #expect(step.from.allows(step.to), "\(step.from.name) -> \(step.to.name)")
        }
        if index < Self.backward.count {
            let step = Self.backward[index]
            #expect(!step.from.allows(step.to), "\(step.from.name) -> \(step.to.name)")
        }
    }

    @Test("advance(to:) takes a forward step and traps on a step back")
    func advanceTraps() async {
        var lifecycle = Self.handshaking
        lifecycle.advance(to: Self.open)
        #expect(lifecycle.name == "open" && lifecycle.acceptsMessages)
        await #expect(processExitsWith: .failure) {
            var lifecycle = StreamLifecycle.open(.init(closeDeadline: nil))
            lifecycle.advance(to: .handshaking(.init(handshake: nil, deadline: nil)))
        }
    }

    // MARK: The state's events drive the lifecycle

    let configuration = ConnectionConfiguration()

    /// Feeds `text` to the state as received bytes.
    func receive(_ text: String, into state: inout StreamConnectionState) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { state.process($0, configuration: configuration) }
    }

    /// Empties the outbox as a writer that wrote everything would; returns the bytes.
    func writeAll(_ state: inout StreamConnectionState) -> String {
        guard let chunks = state.takeForWriting() else { return "" }
        let bytes = (0..<chunks.count).flatMap { chunks[$0] }
        _ = state.finishWriting(remaining: nil, written: bytes.count, error: nil, spent: nil, configuration: configuration)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("before its handshake completes nothing can be sent; once complete the connection is open and onReady told")
    func handshakeOpens() throws {
        var state = StreamConnectionState(codec: LineCodec(), handshake: WaitForGreeting())
        let told = Told()
        state.onReady = { told.record($0) }
        #expect(state.lifecycle.name == "handshaking" && !state.isOpen)
        var replan = false
        #expect(throws: ConnectionError.closed) { _ = try state.queue("early", configuration: configuration, refuseAbove: nil, replan: &replan) }
        receive("hi", into: &state)
        #expect(state.lifecycle.name == "handshaking", "no newline yet: the greeting is not complete")
        receive("\n", into: &state)
        #expect(state.lifecycle.name == "open" && state.isOpen)
        for resume in state.deferred { resume() }
        #expect(told.outcomes == ["ready"])
        _ = try state.queue("line", configuration: configuration, refuseAbove: nil, replan: &replan)
        let written = writeAll(&state)
        #expect(written == "line\n")
    }

    @Test("a refused handshake writes its reply, reads nothing more, then finishes; onReady gets the refusal")
    func refusalFinishesAfterItsReply() {
        var state = StreamConnectionState(codec: LineCodec(), handshake: RefusingHandshake())
        let told = Told()
        state.onReady = { told.record($0) }
        receive("GET / HTTP/1.1\r\n", into: &state)
        #expect(state.lifecycle.name == "closing (refused)")
        guard case .watch(let interest, _) = state.plan(configuration: configuration) else {
            Issue.record("the refusal is still to be written: the connection must not finish yet")
            return
        }
        #expect(interest == [.writable], "writes its reply, reads nothing")
        let written = writeAll(&state)
        #expect(written == "hello\nrefused\n")
        guard case .finish = state.plan(configuration: configuration) else {
            Issue.record("written: the connection finishes")
            return
        }
        let finished = state.finish(configuration: configuration)
        #expect(finished == .fin)
        #expect(state.lifecycle.name == "finished")
        for resume in state.deferred { resume() }
        #expect(told.outcomes == ["handshake"])
    }

    @Test("this side's close: a line codec closes at once, the plan moves to closing, finishes with a FIN once the output is written")
    func closeByThisSide() throws {
        var state = StreamConnectionState(codec: LineCodec(), handshake: nil)
        var replan = false
        _ = try state.queue("last", configuration: configuration, refuseAbove: nil, replan: &replan)
        state.startClosing("bye", configuration: configuration)
        #expect(state.lifecycle.name == "open", "the codec closed; the loop's next plan sees it")
        guard case .watch(_, let deadline) = state.plan(configuration: configuration) else {
            Issue.record("the last line must be written first")
            return
        }
        #expect(state.lifecycle.name == "closing (protocol closed)" && deadline != nil, "closing, within the close timeout")
        let written = writeAll(&state)
        #expect(written == "last\n")
        guard case .finish = state.plan(configuration: configuration) else {
            Issue.record("written: a line codec closes TCP first")
            return
        }
        let finished = state.finish(configuration: configuration)
        #expect(finished == .fin)
        #expect(state.finalClosure as? String == "closed by us")
    }

    @Test("drops: a later reset wins over a FIN, never the other way; a failed socket is what senders hear; nothing after the end")
    func dropsOnlyEscalate() throws {
        var state = StreamConnectionState(codec: LineCodec(), handshake: nil)
        state.drop(reset: true)
        state.inputEnded()
        #expect(state.lifecycle.name == "closing (dropped, reset)", "end of input after an abort keeps the reset")
        state.transportFailed(.connectionReset)
        var replan = false
        #expect(throws: ConnectionError.transportFailed(.connectionReset)) {
            _ = try state.queue("x", configuration: configuration, refuseAbove: nil, replan: &replan)
        }
        guard case .finish = state.plan(configuration: configuration) else {
            Issue.record("a dropped connection finishes at the loop's next look")
            return
        }
        let finished = state.finish(configuration: configuration)
        #expect(finished == .reset)
        state.drop(reset: false)
        state.failHandshake(.timedOut)
        #expect(state.lifecycle.name == "finished", "events after the end change nothing")
        let again = state.finish(configuration: configuration)
        #expect(again == nil, "finishes once")
    }

    @Test("the opener gives up while a refusal is written: onReady hears the opener's reason, once")
    func openerGivesUpDuringRefusal() {
        var state = StreamConnectionState(codec: LineCodec(), handshake: RefusingHandshake())
        let told = Told()
        state.onReady = { told.record($0) }
        receive("x", into: &state)
        state.failHandshake(.timedOut)
        #expect(state.lifecycle.name == "closing (dropped)")
        guard case .finish = state.plan(configuration: configuration) else {
            Issue.record("given up: finish at once")
            return
        }
        let finished = state.finish(configuration: configuration)
        #expect(finished == .fin)
        for resume in state.deferred { resume() }
        #expect(told.outcomes == ["timedOut"])
    }

    @Test("a handshake past its deadline is dropped as timed out; one still in time is not")
    func handshakeDeadline() {
        var state = StreamConnectionState(codec: LineCodec(), handshake: WaitForGreeting())
        let start = ContinuousClock.now
        state.setHandshakeDeadline(start + .seconds(5))
        state.checkDeadlines(now: start + .seconds(4))
        #expect(state.lifecycle.name == "handshaking", "positive control: in time")
        state.checkDeadlines(now: start + .seconds(5))
        #expect(state.lifecycle.name == "closing (dropped)")
        let told = Told()
        state.onReady = { told.record($0) }
        let finished = state.finish(configuration: configuration)
        #expect(finished == .fin)
        for resume in state.deferred { resume() }
        #expect(told.outcomes == ["timedOut"])
    }

    @Test("start's loop block after the opener gave up tells onReady nothing (its finish says why); without a handshake it tells ready")
    func startAfterTheOpenerGaveUp() {
        var state = StreamConnectionState(codec: LineCodec(), handshake: WaitForGreeting())
        let told = Told()
        state.onReady = { told.record($0) }
        state.failHandshake(.cancelled)
        state.started(configuration: configuration)
        for resume in state.deferred { resume() }
        state.deferred.removeAll()
        #expect(told.outcomes.isEmpty, "not ready: \(told.outcomes)")
        #expect(state.finish(configuration: configuration) == .fin)
        for resume in state.deferred { resume() }
        #expect(told.outcomes == ["cancelled"])

        var plain = StreamConnectionState(codec: LineCodec(), handshake: nil)
        let toldPlain = Told()
        plain.onReady = { toldPlain.record($0) }
        plain.started(configuration: configuration)
        for resume in plain.deferred { resume() }
        #expect(toldPlain.outcomes == ["ready"], "positive control: no handshake, ready at once")
    }

    @Test("bytes that arrive after a drop during the handshake reach neither the handshake nor the codec")
    func nothingReadAfterADrop() {
        var state = StreamConnectionState(codec: LineCodec(), handshake: WaitForGreeting())
        let told = Told()
        state.onReady = { told.record($0) }
        state.drop(reset: false)
        receive("hello\nline\n", into: &state)
        #expect(state.lifecycle.name == "closing (dropped)" && state.messagesReceived == 0)
        #expect(state.finish(configuration: configuration) == .fin)
        for resume in state.deferred { resume() }
        #expect(told.outcomes == ["closedDuringHandshake"], "never ready")
    }

    @Test("a handshake that keeps what it read across reads completes on its last piece")
    func handshakeKeepsItsBytes() {
        var state = StreamConnectionState(codec: LineCodec(), handshake: AccumulatingGreeting())
        receive("gre", into: &state)
        #expect(state.lifecycle.name == "handshaking")
        receive("et\n", into: &state)
        #expect(state.lifecycle.name == "open" && state.handshakeResult as? Int == 6, "its bytes were kept, not lost or copied away")
    }

    /// Steps `state`'s deadlines a second at a time from `start` until it is closing; the
    /// seconds it took, or nil after `limit`.
    func secondsUntilClosing(_ state: inout StreamConnectionState, from start: ContinuousClock.Instant, limit: Int = 30) -> Int? {
        for second in 1...limit {
            state.checkDeadlines(now: start + .seconds(second))
            if case .closing = state.lifecycle { return second }
        }
        return nil
    }

    @Test("idle expiry ends with a FIN, drain expiry with a reset; a close that ran out of time with a reset while the codec waits for the peer, with a FIN once it closed")
    func howEachDeadlineCloses() throws {
        var idle = StreamConnectionState(codec: LineCodec(), handshake: nil)
        let idleConfiguration = ConnectionConfiguration(idleTimeout: .seconds(4))
        let idleStart = ContinuousClock.now
        _ = idle.plan(configuration: idleConfiguration)
        let idleAfter = secondsUntilClosing(&idle, from: idleStart)
        #expect(idleAfter.map { (4...6).contains($0) } == true, "\(String(describing: idleAfter))")
        let idleClose = idle.finish(configuration: idleConfiguration)
        #expect(idle.expiry == .idle && idleClose == .fin)

        var drain = StreamConnectionState(codec: LineCodec(), handshake: nil)
        let drainConfiguration = ConnectionConfiguration(drainTimeout: .seconds(4))
        let drainStart = ContinuousClock.now
        _ = drain.plan(configuration: drainConfiguration)
        var replan = false
        _ = try drain.queue("never written", configuration: drainConfiguration, refuseAbove: nil, replan: &replan)
        let drainAfter = secondsUntilClosing(&drain, from: drainStart)
        #expect(drainAfter.map { (4...6).contains($0) } == true, "\(String(describing: drainAfter))")
        let drainClose = drain.finish(configuration: drainConfiguration)
        #expect(drain.expiry == .drain && drainClose == .reset)

        let configuration = ConnectionConfiguration(closeTimeout: .seconds(3))
        var waiting = StreamConnectionState(codec: AnsweredCloseCodec(), handshake: nil)
        let closeStart = ContinuousClock.now
        waiting.startClosing("bye", configuration: configuration)
        waiting.checkDeadlines(now: closeStart + .seconds(2))
        #expect(waiting.lifecycle.name == "open", "positive control: within the close timeout")
        waiting.checkDeadlines(now: closeStart + .seconds(4))
        let waitingClose = waiting.finish(configuration: configuration)
        #expect(waitingClose == .reset)

        // A line codec's close is over at once; its last line waits for a socket that never
        // takes it.
        var closed = StreamConnectionState(codec: LineCodec(), handshake: nil)
        _ = try closed.queue("last", configuration: configuration, refuseAbove: nil, replan: &replan)
        closed.startClosing("bye", configuration: configuration)
        guard case .watch = closed.plan(configuration: configuration) else {
            Issue.record("the last line is still to be written")
            return
        }
        #expect(closed.lifecycle.name == "closing (protocol closed)")
        closed.checkDeadlines(now: closeStart + .seconds(4))
        #expect(closed.lifecycle.name == "closing (dropped)")
        let closedClose = closed.finish(configuration: configuration)
        #expect(closedClose == .fin)
    }
}


/// What `onReady` was told, in order.
private final class Told: Sendable {
    private let recorded = LockedValue<[String]>([])
    var outcomes: [String] { recorded.withLock { $0 } }
    func record(_ result: Result<Void, ConnectFailure>) {
        let outcome = switch result {
        case .success: "ready"
        case .failure(.handshake): "handshake"
        case .failure(.timedOut): "timedOut"
        case .failure(.cancelled): "cancelled"
        case .failure(.closedDuringHandshake): "closedDuringHandshake"
        case .failure(let other): "\(other)"
        }
        recorded.withLock { $0.append(outcome) }
    }
}
