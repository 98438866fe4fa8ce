import Testing
@testable import SensorStream
import SensorWire
import WebSocketIO

/// `sensor_history` on the wire and in the client's sans-I/O state.
@Suite("History: wire protocol and client state")
struct HistoryProtocolTests {
    final class FakeConnection: Sendable {}
    typealias State = ClientState<FakeConnection, Int>

    @Test("a request encodes to the exact bytes and decodes back; the answer decodes from the exact bytes")
    func exactBytes() {
        let request = HistoryRequest(requestID: "h1", sensorID: "A01-S1", field: "temperature", from: 1_700_000_000, to: 1_700_003_600, maxPoints: 60)
        let text = SensorProtocol.encode(ClientMessage.history(request).envelope)
        #expect(text == #"{"event":"sensor_history","data":{"field":"temperature","from":1700000000,"max_points":60,"request_id":"h1","sensor_id":"A01-S1","to":1700003600}}"#)
        #expect(SensorProtocol.decode(text).flatMap(ClientMessage.init) == .history(request))
        let bare = HistoryRequest(requestID: "h2", sensorID: "S", from: -5, to: 0)
        let bareText = SensorProtocol.encode(ClientMessage.history(bare).envelope)
        #expect(bareText == #"{"event":"sensor_history","data":{"from":-5,"request_id":"h2","sensor_id":"S","to":0}}"#)
        #expect(SensorProtocol.decode(bareText).flatMap(ClientMessage.init) == .history(bare))

        let answer = #"{"event":"sensor_history_response","data":{"data":{"from":10,"sensor_id":"S","series":{"t":[[10,1.5,1,2,2]]},"to":20},"request_id":"h1","status":200}}"#
        let decoded = ServerMessage.decode(answer)
        #expect(decoded == .historyResponse(requestID: "h1", status: 200,
                                            data: ["from": 10, "to": 20, "sensor_id": "S", "series": ["t": [[10, 1.5, 1, 2, 2]]]]))
        #expect(decoded?.encodedText == answer, "encodes back to the same bytes")
    }

    /// What `data` decodes to: a request, a 400 reason, or nil (no request id to answer).
    static let requestCases: [(data: String, expected: Result<HistoryRequest, HistoryRequest.Invalid>?)] = [
        (#"{"sensor_id":"S","from":1,"to":2}"#, nil),
        (#"{"request_id":7,"sensor_id":"S","from":1,"to":2}"#, nil),
        (#"{"request_id":"r","from":1,"to":2}"#, .failure(.init(requestID: "r", reason: "sensor_id must be a string"))),
        (#"{"request_id":"r","sensor_id":"S","to":2}"#, .failure(.init(requestID: "r", reason: "from must be a whole number of unix seconds"))),
        (#"{"request_id":"r","sensor_id":"S","from":1.5,"to":2}"#, .failure(.init(requestID: "r", reason: "from must be a whole number of unix seconds"))),
        (#"{"request_id":"r","sensor_id":"S","from":"1","to":2}"#, .failure(.init(requestID: "r", reason: "from must be a whole number of unix seconds"))),
        (#"{"request_id":"r","sensor_id":"S","from":1,"to":9007199254740994}"#, .failure(.init(requestID: "r", reason: "to must be a whole number of unix seconds"))),
        (#"{"request_id":"r","sensor_id":"S","from":-9007199254740992,"to":9007199254740992}"#,
         .success(HistoryRequest(requestID: "r", sensorID: "S", from: -(1 << 53), to: 1 << 53))),
        (#"{"request_id":"r","sensor_id":"S","from":1,"to":2,"field":3}"#, .failure(.init(requestID: "r", reason: "field must be a string"))),
        (#"{"request_id":"r","sensor_id":"S","from":1,"to":2,"field":null,"max_points":null}"#,
         .success(HistoryRequest(requestID: "r", sensorID: "S", from: 1, to: 2))),
        (#"{"request_id":"r","sensor_id":"S","from":1,"to":2,"max_points":2.5}"#, .failure(.init(requestID: "r", reason: "max_points must be a whole number"))),
        (#"{"request_id":"r","sensor_id":"S","from":3,"to":2,"max_points":0}"#,
         .success(HistoryRequest(requestID: "r", sensorID: "S", from: 3, to: 2, maxPoints: 0))),
    ]

    @Test("request data: typed fields are checked, a wrong one is a reason for 400, no request id is nothing to answer", arguments: Self.requestCases.indices)
    func requestParsing(_ index: Int) throws {
        let (data, expected) = Self.requestCases[index]
        let envelope = try #require(SensorProtocol.decode(#"{"event":"sensor_history","data":"# + data + "}"))
        #expect(HistoryRequest.parse(envelope.data) == expected, "\(data)")
        let message = ClientMessage(envelope)
        switch expected {
        case .success(let request)?: #expect(message == .history(request))
        case .failure(let invalid)?: #expect(message == .invalidHistory(invalid))
        case nil: #expect(message == nil)
        }
    }

    @Test("the client sends a history request, again after a reconnect until answered; the answer resolves it once; an error status and a malformed answer are errors")
    func clientState() {
        var state = State()
        state.lifecycle = .running
        let first = FakeConnection()
        state.replay(on: first, isReconnect: false)
        _ = state.takeOutbox()
        let request = HistoryRequest(requestID: "h1", sensorID: "S", field: "t", from: 10, to: 20, maxPoints: 5)
        _ = state.requestHistory(request, 1)
        #expect(state.takeOutbox() == [.history(request)])
        state.connectionEnded(first)
        state.replay(on: FakeConnection(), isReconnect: true)
        #expect(state.takeOutbox().contains(.history(request)), "reading history changes nothing: asked again")
        let refused = HistoryRequest(requestID: "h2", sensorID: "S", from: 10, to: 20)
        let malformed = HistoryRequest(requestID: "h3", sensorID: "S", from: 10, to: 20)
        _ = state.requestHistory(refused, 2)
        _ = state.requestHistory(malformed, 3)
        #expect(state.takeOutbox() == [.history(refused), .history(malformed)])
        let data: JSONValue = ["from": 10, "to": 20, "sensor_id": "S", "series": ["t": [[10, 1.5, 1, 2, 2], [15, 4, 4, 4, 1]]]]
        let deliveries = state.receive([(.text(""), .historyResponse(requestID: "h1", status: 200, data: data)),
                                        (.text(""), .historyResponse(requestID: "h1", status: 200, data: data)),
                                        (.text(""), .historyResponse(requestID: "h2", status: 503, data: ["error": "down"])),
                                        (.text(""), .historyResponse(requestID: "h3", status: 200, data: ["series": ["t": [[1, 2]]]]))])
        let expected = SensorHistory(sensorID: "S", from: 10, to: 20, series: ["t": [
            HistoryPoint(time: 10, average: 1.5, minimum: 1, maximum: 2, count: 2), HistoryPoint(time: 15, average: 4, minimum: 4, maximum: 4, count: 1)]])
        #expect(deliveries.answers.count == 3)
        #expect(deliveries.answers.first.map { $0.0 == 1 && $0.1 == .history(.success(expected)) } == true)
        #expect(deliveries.answers.dropFirst().first.map { $0.0 == 2 && $0.1 == .history(.failure(.requestRefused(status: 503, reason: "down"))) } == true)
        #expect(deliveries.answers.last.map {
            $0.0 == 3 && $0.1 == .history(.failure(.protocolViolation("a sensor_history_response whose data is malformed")))
        } == true)
        #expect(state.statistics.messagesSkipped == 1, "the second answer to h1 had nobody waiting")
        state.replay(on: FakeConnection(), isReconnect: true)
        #expect(!state.takeOutbox().contains { if case .history = $0 { true } else { false } }, "answered requests are not asked again")
    }

    @Test("cancelling one request never takes another table's waiter: a status that timed out leaves the history waiting (ids are unique across tables)")
    func cancelAcrossTables() {
        var state = State()
        state.lifecycle = .running
        let status = state.requestStatus("S", 1)
        let command = state.requestCommand(requestID: "c1", sensorID: "S", service: "x", data: nil, 2)
        let list = state.requestSensors(3)
        let history = state.requestHistory(HistoryRequest(requestID: "h1", sensorID: "S", from: 1, to: 2), 4)
        #expect(Set([status, command, list, history]).count == 4)
        #expect(state.cancelRequest(status) == 1)
        #expect(state.cancelRequest(list) == 3)
        state.replay(on: FakeConnection(), isReconnect: false)
        #expect(state.takeOutbox().contains(.history(HistoryRequest(requestID: "h1", sensorID: "S", from: 1, to: 2))), "the history still waits")
        #expect(state.cancelRequest(history) == 4 && state.cancelRequest(command) == 2)
    }

    @Test("closing the client hands back a waiting history request (it fails with disconnected, not a timeout later)")
    func closingFailsHistory() {
        var state = State()
        state.lifecycle = .running
        _ = state.requestHistory(HistoryRequest(requestID: "h1", sensorID: "S", from: 1, to: 2), 7)
        _ = state.requestStatus("S", 8)
        let teardown = state.disconnect(reason: DisconnectReason(closeCode: 1000, message: "bye"))
        #expect(teardown?.waiters.sorted() == [7, 8])
    }

    @Test("a history request that gave up is not asked again after a reconnect; one still waiting is (positive control)")
    func cancelled() {
        var state = State()
        state.lifecycle = .running
        let gaveUp = state.requestHistory(HistoryRequest(requestID: "h1", sensorID: "S", from: 1, to: 2), 1)
        let waiting = HistoryRequest(requestID: "h2", sensorID: "S", from: 1, to: 2)
        _ = state.requestHistory(waiting, 2)
        #expect(state.cancelRequest(gaveUp) == 1)
        state.replay(on: FakeConnection(), isReconnect: false)
        let sent = state.takeOutbox()
        #expect(sent.contains(.history(waiting)))
        #expect(!sent.contains { if case .history(let request) = $0 { request.requestID == "h1" } else { false } })
    }
}
