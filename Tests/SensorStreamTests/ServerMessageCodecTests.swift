import Foundation
import Testing
import UTF8Validation
@testable import SensorStream
import SensorWire

/// The one-pass server message codec (the client's and the hub's hot path) against the
/// general envelope path it replaces.
@Suite("Server message one-pass codec")
struct ServerMessageCodecTests {
    /// The general path the one-pass decoder must match.
    static func generalDecode(_ text: String) -> ServerMessage? {
        SensorProtocol.decode(text).flatMap(ServerMessage.init)
    }

    @Test("the one-pass decoder agrees with the general path, member order and duplicates included")
    func onePassDecoding() {
        let cases = [
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":{"t":[1,null]}}}"#,
            #"{"data":{"sensor_readings":2.5,"sensor_id":"A"},"event":"new_sensor_data"}"#,
            #" { "event" : "sensor_connection_status" , "data" : { "connected" : false , "sensor_id" : "B\u00e9" } } "#,
            #"{"event":"new_sensor_data","event":"sensor_connection_status","data":{"sensor_id":"A","connected":true,"sensor_readings":1}}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":1},"data":{"sensor_id":"B"}}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_id":"C","sensor_readings":null}}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":1},"data":7}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":1},"extra":[{"deep":[]}]}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":1}} x"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":1},}"#,
            #"{"event":"unknown","data":{"sensor_id":"A","sensor_readings":1}}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":1,"sensor_readings":1}}"#,
            #"{"ev\u0065nt":"new_sensor_data","d\u0061ta":{"sensor_\u0069d":"A","sensor_readings":1}}"#,
            #"{"évent":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":1}}"#,
            #"{"event":"new\u005fsensor_data","data":{"sensor_id":"A","sensor_readings":1}}"#,
            #"{"event":"new_sensor_data ","data":{"sensor_id":"A","sensor_readings":1}}"#,
            #"{"event":["new_sensor_data"],"data":{"sensor_id":"A","sensor_readings":1}}"#,
            #"{"event":"new_sensor_data","data":{"sensor_id":"Aé€😀 long enough to take the word-wise path","sensor_readings":1}}"#,
            #"[{"event":"new_sensor_data"}]"#, "", "{", "null", #"{"event":1,"data":""}"#, #"{"data":{}}"#,
            #"{"event":"sensor_connection_status","data":{"sensor_id":"A","connected":1}}"#,
            #"{"event":"sensor_connection_status","data":{"sensor_id":"A","connected":true,"x":"\ud800"}}"#,
            String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":"# + String(repeating: "[", count: 255)
                + String(repeating: "]", count: 255) + "}}",
            #"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":"# + String(repeating: "[", count: 254)
                + String(repeating: "]", count: 254) + "}}",
        ]
        var decoded = 0
        for text in cases {
            let fast = ServerMessage.decode(text)
            #expect(fast == Self.generalDecode(text), "\(text)")
            if fast != nil { decoded += 1 }
        }
        #expect(decoded == 10, "the valid messages above decode")
    }

    @Test("invalid UTF-8 or control characters anywhere, member names included, fail both paths alike")
    func invalidBytes() {
        let valid = Array(#"{"event":"new_sensor_data","data":{"sensor_id":"A01-S1-long-sensor-name","sensor_readings":{"temperature":21.5}}}"#.utf8)
        var rejected = 0
        for position in 1..<valid.count - 1 {
            for bad: UInt8 in [0xFF, 0xC3, 0x80, 0x01, 0x1F] {
                var bytes = valid
                bytes[position] = bad
                let fast = bytes.withUnsafeBytes { JSONParser.parseServerMessage($0) }
                let general = bytes.withUnsafeBytes { (try? JSONParser.parse($0)) }.flatMap { value -> ServerMessage? in
                    guard case .object(let members) = value, case .string(let event)? = members["event"] else { return nil }
                    return ServerMessage(Envelope(event: event, data: members["data"] ?? .null))
                }
                #expect(fast == general, "byte \(bad) at \(position)")
                if fast == nil { rejected += 1 }
            }
        }
        #expect(rejected == (valid.count - 2) * 5, "no corrupted message decodes")
    }

    @Test("the one-pass decoder agrees with the general path on every JSONTestSuite file, bare and wrapped as readings")
    func onePassOnCorpus() throws {
        let corpus = JSONParserTests.corpus
        for file in try FileManager.default.contentsOfDirectory(atPath: corpus.path) where file.hasSuffix(".json") {
            let data = try Data(contentsOf: corpus.appendingPathComponent(file))
            #expect(data.withUnsafeBytes { JSONParser.parseServerMessage($0) } == nil, "\(file) is not a server message")
            let wrapped = Array(#"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":"#.utf8) + Array(data) + Array("}}".utf8)
            let general: ServerMessage? = UTF8Validator.isValid(wrapped)
                ? Self.generalDecode(String(decoding: wrapped, as: UTF8.self)) : nil
            #expect(wrapped.withUnsafeBytes { JSONParser.parseServerMessage($0) } == general, "\(file)")
        }
    }

    @Test("encodedText writes exactly what encoding the envelope writes")
    func encodedText() {
        let messages: [ServerMessage] = [
            .sensorData(sensorID: "A01-S1", readings: ["temperature": 21.5, "humidity": 40, "tags": ["a", nil, true]]),
            .sensorData(sensorID: "q\"\\ \n é", readings: .string("\u{1}")),
            .sensorData(sensorID: "", readings: .null),
            .connectionStatus(sensorID: "CE7238J", connected: true),
            .connectionStatus(sensorID: "x\"y", connected: false),
        ]
        for message in messages {
            #expect(message.encodedText == SensorProtocol.encode(message.envelope))
            #expect(ServerMessage.decode(message.encodedText) == message)
        }
        #expect(ServerMessage.connectionStatus(sensorID: "A", connected: true).encodedText
                == #"{"event":"sensor_connection_status","data":{"connected":true,"sensor_id":"A"}}"#)
    }
}
