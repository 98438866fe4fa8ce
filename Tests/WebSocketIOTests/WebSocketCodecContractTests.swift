import ConnectionCore
import Testing
@testable import WebSocketCore
@testable import WebSocketIO

@Suite("WebSocketCodec's own casts: what the generic bridge would do, written out")
struct WebSocketCodecContractTests {
    @Test("send takes a WebSocketOutbound and frames it; anything else is refused, naming both types, with nothing queued")
    func sendChecksTheType() throws {
        var codec = WebSocketCodec(role: .server, limits: .init())
        try codec.send(WebSocketOutbound.text("hi"))
        #expect(codec.takeOutput() == [0x81, 0x02, 0x68, 0x69], "positive control: an unmasked text frame")
        #expect(throws: ConnectionError.rejected("WebSocketCodec sends WebSocketOutbound, not Int")) { try codec.send(42) }
        #expect(throws: ConnectionError.rejected("WebSocketCodec sends WebSocketOutbound, not String")) { try codec.send("hi") }
        #expect(codec.takeOutput().isEmpty)
    }
}
