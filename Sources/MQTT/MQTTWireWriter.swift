/// The field encodings of MQTT 3.1.1, section 1.5, and the remaining length of 2.2.3.
enum MQTTWireWriter {
    static func appendUInt16(_ value: UInt16, to output: inout [UInt8]) {
        output.append(UInt8(value >> 8))
        output.append(UInt8(value & 0xFF))
    }

    static func appendPacketID(_ id: UInt16, to output: inout [UInt8]) throws(MQTTPacketError) {
        guard id != 0 else { throw .invalidArgument("packet identifier 0") }
        appendUInt16(id, to: &output)
    }

    static func appendBinary(_ bytes: [UInt8], _ field: String, to output: inout [UInt8]) throws(MQTTPacketError) {
        guard bytes.count <= Int(UInt16.max) else { throw .invalidArgument("\(field) of \(bytes.count) bytes (at most 65,535)") }
        appendUInt16(UInt16(bytes.count), to: &output)
        output.append(contentsOf: bytes)
    }

    /// A string the caller gave: at most 65,535 bytes of UTF-8, no U+0000.
    static func appendCheckedString(_ string: String, _ field: String, to output: inout [UInt8]) throws(MQTTPacketError) {
        guard !string.utf8.contains(0) else { throw .invalidArgument("\(field) contains U+0000") }
        try appendBinary(Array(string.utf8), field, to: &output)
    }

    /// A string known to be valid.
    static func appendString(_ string: String, to output: inout [UInt8]) {
        appendUInt16(UInt16(string.utf8.count), to: &output)
        output.append(contentsOf: string.utf8)
    }

    /// Seven bits a byte, least significant first, the top bit set on all but the last.
    static func appendRemainingLength(_ length: Int, to output: inout [UInt8]) {
        var value = length
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value > 0 { byte |= 0x80 }
            output.append(byte)
        } while value > 0
    }
}
