/// Why bytes are not a valid FastSlow message (protobuf proto2 wire format).
public enum ProtoDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes end inside a field (a tag, a varint, a fixed-size value or a length-delimited payload).
    case truncated
    /// A varint longer than 10 bytes.
    case malformedVarint
    /// Field number 0, or one beyond 2^29 - 1.
    case invalidFieldNumber(UInt64)
    /// Wire types 3 and 4 (groups) and 6, 7 (undefined).
    case unsupportedWireType(Int)
    /// A required field is missing (its name in the schema).
    case missingRequiredField(String)
    /// A string field that is not valid UTF-8.
    case invalidUTF8
    /// A `WrapperMessage` with no field set.
    case noMessageSet
    /// A `WrapperMessage` with two or more different fields set.
    case severalMessagesSet

    /// A readable explanation.
    public var description: String {
        switch self {
        case .truncated: "truncated field"
        case .malformedVarint: "varint longer than 10 bytes"
        case .invalidFieldNumber(let number): "invalid field number \(number)"
        case .unsupportedWireType(let type): "unsupported wire type \(type)"
        case .missingRequiredField(let name): "required field \(name) is missing"
        case .invalidUTF8: "string is not valid UTF-8"
        case .noMessageSet: "no message set in the wrapper"
        case .severalMessagesSet: "several messages set in the wrapper"
        }
    }
}
