/// The protobuf wire format pieces the FastSlow messages need: varints, tags, length-delimited
/// fields, skipping unknown fields. Sans-I/O: bytes in, values out.
enum ProtoWire {
    static let varint = 0
    static let fixed64 = 1
    static let lengthDelimited = 2
    static let fixed32 = 5

    /// Appends `value` as a varint.
    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Appends a field's tag.
    static func appendTag(field: Int, wireType: Int, to bytes: inout [UInt8]) {
        appendVarint(UInt64(field << 3 | wireType), to: &bytes)
    }

    /// Appends a length-delimited field.
    static func appendLengthDelimited(field: Int, _ payload: [UInt8], to bytes: inout [UInt8]) {
        appendTag(field: field, wireType: lengthDelimited, to: &bytes)
        appendVarint(UInt64(payload.count), to: &bytes)
        bytes += payload
    }

    /// A cursor over one message's bytes.
    struct Reader {
        let bytes: ArraySlice<UInt8>
        var index: Int

        init(_ bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            index = bytes.startIndex
        }

        var isAtEnd: Bool { index >= bytes.endIndex }

        mutating func varint() throws(ProtoDecodeError) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            for count in 0..<10 {
                guard index < bytes.endIndex else { throw .truncated }
                let byte = bytes[index]
                index += 1
                // The 10th byte holds bit 63 only; higher bits are dropped, as the reference does.
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
                if count == 9 { break }
            }
            throw .malformedVarint
        }

        /// The next field's number and wire type; nil at the end.
        mutating func tag() throws(ProtoDecodeError) -> (field: Int, wireType: Int)? {
            guard !isAtEnd else { return nil }
            let key = try varint()
            let field = key >> 3
            guard field >= 1, field <= (1 << 29) - 1 else { throw .invalidFieldNumber(field) }
            let wireType = Int(key & 7)
            switch wireType {
            case ProtoWire.varint, ProtoWire.fixed64, ProtoWire.lengthDelimited, ProtoWire.fixed32: break
            default: throw .unsupportedWireType(wireType)
            }
            return (Int(field), wireType)
        }

        /// A length-delimited payload.
        mutating func lengthDelimited() throws(ProtoDecodeError) -> ArraySlice<UInt8> {
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - index) else { throw .truncated }
            let end = index + Int(length)
            defer { index = end }
            return bytes[index..<end]
        }

        /// Skips a field of `wireType` (an unknown field).
        mutating func skip(wireType: Int) throws(ProtoDecodeError) {
            switch wireType {
            case ProtoWire.varint: _ = try varint()
            case ProtoWire.fixed64: try advance(8)
            case ProtoWire.fixed32: try advance(4)
            default: _ = try lengthDelimited()
            }
        }

        private mutating func advance(_ count: Int) throws(ProtoDecodeError) {
            guard bytes.endIndex - index >= count else { throw .truncated }
            index += count
        }
    }
}
