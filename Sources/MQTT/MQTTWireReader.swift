import UTF8Validation

/// Reads the fields of one packet's body (after the fixed header), in order, checking each
/// against MQTT 3.1.1's encoding rules (section 1.5).
struct MQTTWireReader {
    private let body: ArraySlice<UInt8>
    private var index: Int

    init(_ body: ArraySlice<UInt8>) {
        self.body = body
        index = body.startIndex
    }

    /// Bytes not read yet.
    var remaining: Int { body.endIndex - index }

    mutating func byte(_ field: String) throws(MQTTPacketError) -> UInt8 {
        guard index < body.endIndex else { throw .malformed("\(field) missing") }
        defer { index += 1 }
        return body[index]
    }

    /// A two-byte big-endian integer.
    mutating func uint16(_ field: String) throws(MQTTPacketError) -> UInt16 {
        guard remaining >= 2 else { throw .malformed("\(field) missing") }
        defer { index += 2 }
        return UInt16(body[index]) << 8 | UInt16(body[index + 1])
    }

    /// A packet identifier: two bytes, never 0 (MQTT-2.3.1-1).
    mutating func packetID() throws(MQTTPacketError) -> UInt16 {
        let id = try uint16("packet identifier")
        guard id != 0 else { throw .malformed("packet identifier 0") }
        return id
    }

    /// Binary data: a two-byte length, then that many bytes.
    mutating func binary(_ field: String) throws(MQTTPacketError) -> [UInt8] {
        let count = Int(try uint16("\(field) length"))
        guard remaining >= count else { throw .malformed("\(field) shorter than its length \(count)") }
        defer { index += count }
        return Array(body[index..<index + count])
    }

    /// A UTF-8 string: like binary data, well-formed UTF-8 without U+0000 (MQTT-1.5.3-1, -2).
    mutating func string(_ field: String) throws(MQTTPacketError) -> String {
        let bytes = try binary(field)
        guard UTF8Validator.isValid(bytes) else { throw .malformed("\(field) is not well-formed UTF-8") }
        guard !bytes.contains(0) else { throw .malformed("\(field) contains U+0000") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Everything not read yet.
    mutating func rest() -> [UInt8] {
        defer { index = body.endIndex }
        return Array(body[index...])
    }

    /// The body must end here.
    func expectEnd(_ packet: String) throws(MQTTPacketError) {
        guard remaining == 0 else { throw .malformed("\(remaining) unexpected bytes at the end of \(packet)") }
    }
}
