import Testing
@testable import SensorStream
import SensorWire

@Suite("Protocol codec")
struct ProtocolCodecTests {
    @Test("client messages encode to the exact bytes of the wire protocol")
    func exactBytes() {
        #expect(SensorProtocol.encode(ClientMessage.connect.envelope) == #"{"event":"client_connect","data":""}"#)
        #expect(SensorProtocol.encode(ClientMessage.disconnect.envelope) == #"{"event":"client_disconnect","data":""}"#)
        #expect(SensorProtocol.encode(ClientMessage.subscribe(sensorID: "CE7238J").envelope)
                == #"{"event":"subscribe_sensor","data":{"sensor_id":"CE7238J"}}"#)
        #expect(SensorProtocol.encode(ClientMessage.unsubscribe(sensorID: "CE7238J").envelope)
                == #"{"event":"unsubscribe_sensor","data":{"sensor_id":"CE7238J"}}"#)
        #expect(SensorProtocol.encode(ClientMessage.connectionStatus(sensorID: "CE7238J").envelope)
                == #"{"event":"sensor_connection_status","data":{"sensor_id":"CE7238J"}}"#)
    }

    @Test("a sensor id cannot inject JSON")
    func injection() {
        let evil = #"x","event":"client_disconnect"#
        let text = SensorProtocol.encode(ClientMessage.subscribe(sensorID: evil).envelope)
        #expect(text == #"{"event":"subscribe_sensor","data":{"sensor_id":"x\",\"event\":\"client_disconnect"}}"#)
        #expect(SensorProtocol.decode(text).flatMap(ClientMessage.init) == .subscribe(sensorID: evil))
    }

    @Test("server messages decode; anything malformed is nil")
    func decoding() {
        #expect(SensorProtocol.decode(#"{"event":"new_sensor_data","data":{"sensor_id":"A","sensor_readings":{"t":[1,null]}}}"#)
            .flatMap(ServerMessage.init) == .sensorData(sensorID: "A", readings: ["t": [1, nil]]))
        #expect(SensorProtocol.decode(#"{"event":"sensor_connection_status","data":{"sensor_id":"A","connected":true}}"#)
            .flatMap(ServerMessage.init) == .connectionStatus(sensorID: "A", connected: true))
        for bad in ["", "{", "null", #"{"event":1,"data":""}"#, #"{"data":{}}"#, #"{"event":"new_sensor_data","data":{"sensor_readings":1}}"#,
                    #"{"event":"sensor_connection_status","data":{"sensor_id":"A","connected":1}}"#] {
            #expect(SensorProtocol.decode(bad).flatMap(ServerMessage.init) == nil, "\(bad)")
        }
    }
}
