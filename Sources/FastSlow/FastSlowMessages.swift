/// `FastResponse`: the server's current time, `YYYYMMDDThhmmss.fff` in its local time zone.
public struct FastResponse: Sendable, Hashable {
    /// `current_date_time` (field 1, required).
    public var currentDateTime: String

    /// A fast response.
    /// - Parameter currentDateTime: The time, e.g. `19851019T050107.333`.
    public init(currentDateTime: String) {
        self.currentDateTime = currentDateTime
    }
}

/// `SlowResponse`: how many clients were connected when the slow request arrived.
public struct SlowResponse: Sendable, Hashable {
    /// `connected_client_count` (field 1, required).
    public var connectedClientCount: UInt32

    /// A slow response.
    /// - Parameter connectedClientCount: The count, the requesting client included.
    public init(connectedClientCount: UInt32) {
        self.connectedClientCount = connectedClientCount
    }
}

/// `RequestForSlowResponse`: answer after sleeping this many seconds.
public struct RequestForSlowResponse: Sendable, Hashable {
    /// `time_in_seconds_to_sleep` (field 1, required).
    public var timeInSecondsToSleep: UInt32

    /// A slow request.
    /// - Parameter timeInSecondsToSleep: The sleep, in seconds.
    public init(timeInSecondsToSleep: UInt32) {
        self.timeInSecondsToSleep = timeInSecondsToSleep
    }
}

/// `WrapperMessage`: every message on the wire, with exactly one of its fields set.
public enum WrapperMessage: Sendable, Hashable {
    /// Field 1.
    case fastResponse(FastResponse)
    /// Field 2.
    case slowResponse(SlowResponse)
    /// Field 3 (`RequestForFastResponse`, an empty message).
    case requestForFastResponse
    /// Field 4.
    case requestForSlowResponse(RequestForSlowResponse)

    /// The protobuf encoding, byte for byte what the reference implementation writes.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        switch self {
        case .fastResponse(let response):
            var inner: [UInt8] = []
            ProtoWire.appendLengthDelimited(field: 1, Array(response.currentDateTime.utf8), to: &inner)
            ProtoWire.appendLengthDelimited(field: 1, inner, to: &bytes)
        case .slowResponse(let response):
            var inner: [UInt8] = []
            ProtoWire.appendTag(field: 1, wireType: ProtoWire.varint, to: &inner)
            ProtoWire.appendVarint(UInt64(response.connectedClientCount), to: &inner)
            ProtoWire.appendLengthDelimited(field: 2, inner, to: &bytes)
        case .requestForFastResponse:
            ProtoWire.appendLengthDelimited(field: 3, [], to: &bytes)
        case .requestForSlowResponse(let request):
            var inner: [UInt8] = []
            ProtoWire.appendTag(field: 1, wireType: ProtoWire.varint, to: &inner)
            ProtoWire.appendVarint(UInt64(request.timeInSecondsToSleep), to: &inner)
            ProtoWire.appendLengthDelimited(field: 4, inner, to: &bytes)
        }
        return bytes
    }

    /// Appends the message with its size prefix (what `writeDelimitedTo` writes).
    /// - Parameter bytes: Where the prefix and the message go.
    public func appendDelimited(to bytes: inout [UInt8]) {
        let body = encoded
        ProtoWire.appendVarint(UInt64(body.count), to: &bytes)
        bytes += body
    }

    /// Decodes a wrapper as the reference implementation does (unknown fields skipped, a known
    /// field with another wire type than declared counted as unknown, a field given twice
    /// merged, the last scalar winning), then checks it has exactly one message
    /// set and every required field.
    /// - Parameter bytes: One message, without its size prefix.
    /// - Returns: The message.
    /// - Throws: ``ProtoDecodeError``.
    public static func decode(_ bytes: [UInt8]) throws(ProtoDecodeError) -> WrapperMessage {
        try decode(bytes[...])
    }

    /// ``decode(_:)`` on a slice.
    /// - Parameter bytes: One message, without its size prefix.
    /// - Returns: The message.
    /// - Throws: ``ProtoDecodeError``.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(ProtoDecodeError) -> WrapperMessage {
        var reader = ProtoWire.Reader(bytes)
        // Merged contents of each field seen: the inner field's value, if it was given.
        var fast: String??
        var slow: UInt32??
        var requestFast = false
        var requestSlow: UInt32??
        while let (field, wireType) = try reader.tag() {
            // A known field with another wire type is an unknown field, as in the reference.
            guard (1...4).contains(field), wireType == ProtoWire.lengthDelimited else {
                try reader.skip(wireType: wireType)
                continue
            }
            let payload = try reader.lengthDelimited()
            switch field {
            case 1: fast = .some(try innerString(payload) ?? fast.flatMap { $0 })
            case 2: slow = .some(try innerUInt32(payload) ?? slow.flatMap { $0 })
            case 3: try skipAll(payload); requestFast = true
            default: requestSlow = .some(try innerUInt32(payload) ?? requestSlow.flatMap { $0 })
            }
        }
        let setCount = [fast != nil, slow != nil, requestFast, requestSlow != nil].filter { $0 }.count
        guard setCount > 0 else { throw .noMessageSet }
        guard setCount == 1 else { throw .severalMessagesSet }
        if let fast {
            guard let value = fast else { throw .missingRequiredField("FastResponse.current_date_time") }
            return .fastResponse(FastResponse(currentDateTime: value))
        }
        if let slow {
            guard let value = slow else { throw .missingRequiredField("SlowResponse.connected_client_count") }
            return .slowResponse(SlowResponse(connectedClientCount: value))
        }
        if let requestSlow {
            guard let value = requestSlow else { throw .missingRequiredField("RequestForSlowResponse.time_in_seconds_to_sleep") }
            return .requestForSlowResponse(RequestForSlowResponse(timeInSecondsToSleep: value))
        }
        return .requestForFastResponse
    }

    /// A message whose field 1 is a string: its last value, or nil when absent.
    private static func innerString(_ bytes: ArraySlice<UInt8>) throws(ProtoDecodeError) -> String? {
        try lastFieldOne(bytes, wireType: ProtoWire.lengthDelimited) { (reader) throws(ProtoDecodeError) -> String in
            guard let text = String(validating: try reader.lengthDelimited(), as: UTF8.self) else { throw .invalidUTF8 }
            return text
        }
    }

    /// A message whose field 1 is a uint32: its last value (a varint truncated to 32 bits, as
    /// the reference does), or nil when absent.
    private static func innerUInt32(_ bytes: ArraySlice<UInt8>) throws(ProtoDecodeError) -> UInt32? {
        try lastFieldOne(bytes, wireType: ProtoWire.varint) { (reader) throws(ProtoDecodeError) -> UInt32 in
            UInt32(truncatingIfNeeded: try reader.varint())
        }
    }

    /// The last value of field 1 (of `wireType`, read by `read`), other fields skipped.
    private static func lastFieldOne<Value>(
        _ bytes: ArraySlice<UInt8>, wireType expected: Int, read: (inout ProtoWire.Reader) throws(ProtoDecodeError) -> Value
    ) throws(ProtoDecodeError) -> Value? {
        var reader = ProtoWire.Reader(bytes)
        var value: Value?
        while let (field, wireType) = try reader.tag() {
            guard field == 1, wireType == expected else {
                try reader.skip(wireType: wireType)
                continue
            }
            value = try read(&reader)
        }
        return value
    }

    /// An empty message: its fields are all unknown, skipped (but must be well formed).
    private static func skipAll(_ bytes: ArraySlice<UInt8>) throws(ProtoDecodeError) {
        var reader = ProtoWire.Reader(bytes)
        while let (_, wireType) = try reader.tag() { try reader.skip(wireType: wireType) }
    }
}
