import UTF8Validation

/// Why JSON text could not be parsed.
package struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The byte offset where parsing stopped.
    package let offset: Int
    package let reason: String

    package var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// A strict RFC 8259 parser straight from UTF-8 bytes into ``JSONValue``: the hot path of
/// every received message. About an order of magnitude faster than going through
/// JSONDecoder and `JSONValue`'s `Decodable` conformance (see the README's Performance).
///
/// Choices for what RFC 8259 leaves open (JSONTestSuite's `i_` cases): invalid UTF-8, lone
/// surrogate escapes and a byte order mark are rejected; a number is the nearest Double, and
/// one too large for a Double (it would become infinity) is rejected; so is nesting deeper
/// than `maxDepth` (256 by default), which also bounds the parser's stack.
package struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0
    private let maxDepth: Int

    private init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Parses one JSON text (whitespace around it allowed, nothing else).
    package static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 256) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("trailing characters") }
        return value
    }

    /// Parses JSON text held in a String (no copy for native strings).
    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in
            Result { () throws(JSONParseError) in try parse(UnsafeRawBufferPointer(buffer)) }
        }.get()
    }

    /// Parses a server message (``ServerMessage``) in one pass: the envelope's members are
    /// matched as they are read instead of being collected into dictionaries. The whole text
    /// is still validated; duplicate members resolve as in ``parse(_:maxDepth:)`` (the last
    /// one wins). Nil for anything that is not valid JSON or not a known server message.
    package static func parseServerMessage(_ bytes: UnsafeRawBufferPointer) -> ServerMessage? {
        var parser = JSONParser(bytes, maxDepth: 256)
        return try? parser.parseServerMessage()
    }

    private mutating func parseServerMessage() throws(JSONParseError) -> ServerMessage? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { return nil }
        /// Which server event the `event` member names (only these two are messages).
        enum EventName { case connectionStatus, sensorData, other }
        var event: EventName?
        var dataIsObject = false
        var sensorID: JSONValue?
        var connected: JSONValue?
        var readings: JSONValue?
        try forEachMember(depth: 1) { (parser, name) throws(JSONParseError) in
            if name.matches("event") {
                // Matched on the bytes: the event's name never becomes a String.
                guard parser.peek() == UInt8(ascii: "\"") else {
                    _ = try parser.parseValue(depth: 1)
                    event = .other
                    return
                }
                let value = try parser.parseMemberName()
                event = value.matches("new_sensor_data") ? .sensorData
                    : value.matches("sensor_connection_status") ? .connectionStatus : .other
            } else if name.matches("data") {
                (sensorID, connected, readings) = (nil, nil, nil)
                dataIsObject = parser.peek() == UInt8(ascii: "{")
                guard dataIsObject else {
                    _ = try parser.parseValue(depth: 1)
                    return
                }
                try parser.forEachMember(depth: 2) { (parser, name) throws(JSONParseError) in
                    let value = try parser.parseValue(depth: 2)
                    if name.matches("sensor_id") {
                        sensorID = value
                    } else if name.matches("sensor_readings") {
                        readings = value
                    } else if name.matches("connected") {
                        connected = value
                    }
                }
            } else {
                _ = try parser.parseValue(depth: 1)
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw error("trailing characters") }
        guard let event, dataIsObject, case .string(let id)? = sensorID else { return nil }
        switch event {
        case .connectionStatus:
            guard case .bool(let isConnected)? = connected else { return nil }
            return .connectionStatus(sensorID: id, connected: isConnected)
        case .sensorData:
            guard let readings else { return nil }
            return .sensorData(sensorID: id, readings: readings)
        case .other:
            return nil
        }
    }

    /// A member name as ``forEachMember(depth:_:)`` reads it: the input bytes themselves when
    /// the name has no escapes (no String is made), decoded otherwise.
    private struct MemberName {
        var raw: UnsafeRawBufferPointer?
        var decoded: String?

        @inline(__always)
        func matches(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            if let raw {
                // Lengths first (most names differ there), then the bytes through plain
                // pointers (not a sequence comparison through iterators).
                guard raw.count == count else { return false }
                let expected = literal.utf8Start
                for offset in 0..<count where raw[offset] != expected[offset] { return false }
                return true
            }
            let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: count)
            return decoded?.utf8.elementsEqual(expected) ?? false
        }
    }

    /// Reads a member name, or any string to be matched rather than kept (the cursor is on its
    /// opening quote).
    private mutating func parseMemberName() throws(JSONParseError) -> MemberName {
        let quote = index
        index += 1
        if let range = try scanPlainString() {
            return MemberName(raw: UnsafeRawBufferPointer(rebasing: bytes[range]))
        }
        index = quote
        return MemberName(decoded: try parseString())
    }

    /// Reads an object at `depth` (the cursor is on its `{`), calling `member` with each name;
    /// `member` must consume the value.
    private mutating func forEachMember(depth: Int, _ member: (inout JSONParser, MemberName) throws(JSONParseError) -> Void) throws(JSONParseError) {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth)") }
        index += 1  // {
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let name = try parseMemberName()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            try member(&self, name)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                return
            default:
                throw error("expected ',' or '}'")
            }
        }
    }

    private func error(_ reason: String) -> JSONParseError {
        JSONParseError(offset: index, reason: reason)
    }

    @inline(__always)
    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard let byte = peek() else { throw error("unexpected end") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character")
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("truncated literal") }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != pointer[offset] {
            throw error("invalid literal")
        }
        index += count
    }

    /// (Not written on top of ``forEachMember(depth:_:)``: when this was measured, a message
    /// decode through the closure cost 7,960 instead of 7,180 instructions.)
    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth)") }
        index += 1  // {
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .object([:])
        }
        var members = Self.emptyMembers
        while true {
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let key = try parseString()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            members[key] = try parseValue(depth: depth)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                return .object(members)
            default:
                throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth)") }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            default:
                throw error("expected ',' or ']'")
            }
        }
    }

    /// Scans a string without escapes from the cursor (just after the opening quote) to its
    /// closing quote, 8 bytes at a time. Returns the content's range and leaves the cursor
    /// after the quote; nil (cursor somewhere inside) at an escape or a control character.
    /// The content is validated as UTF-8 unless it is all ASCII.
    @inline(__always)
    private mutating func scanPlainString() throws(JSONParseError) -> Range<Int>? {
        let start = index
        var sawNonASCII = false
        let quotes: UInt64 = 0x2222_2222_2222_2222
        let backslashes: UInt64 = 0x5C5C_5C5C_5C5C_5C5C
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        var cursor = index
        while cursor + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: cursor, as: UInt64.self))
            // A byte of `word` is zero / below 0x20 exactly where these have its high bit set,
            // except that a borrow can also mark bytes above a marked one: the lowest mark is
            // always exact. (In Swift `&` binds tighter than `&-`: the parentheses matter.)
            let quote = ((word ^ quotes) &- ones) & ~(word ^ quotes)
            let backslash = ((word ^ backslashes) &- ones) & ~(word ^ backslashes)
            let control = (word &- (ones &* 0x20)) & ~word
            let special = (quote | backslash | control) & highBits
            if special == 0 {
                if word & highBits != 0 { sawNonASCII = true }
                cursor += 8
                continue
            }
            // The first special byte, found without looking at the bytes one by one.
            let offset = special.trailingZeroBitCount / 8
            let before = offset == 0 ? 0 : word & (UInt64.max >> (64 - 8 * offset))
            if before & highBits != 0 { sawNonASCII = true }
            cursor += offset
            guard bytes[cursor] == UInt8(ascii: "\"") else {
                index = cursor
                return nil
            }
            return try endPlainString(start: start, quote: cursor, sawNonASCII: sawNonASCII)
        }
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                return try endPlainString(start: start, quote: cursor, sawNonASCII: sawNonASCII)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 {
                index = cursor
                return nil
            }
            if byte >= 0x80 { sawNonASCII = true }
            cursor += 1
        }
        index = cursor
        return nil
    }

    /// The end of ``scanPlainString()``: the content before the closing quote at `quote`,
    /// validated if it has non-ASCII bytes; the cursor moves past the quote.
    @inline(__always)
    private mutating func endPlainString(start: Int, quote: Int, sawNonASCII: Bool) throws(JSONParseError) -> Range<Int> {
        let range = start..<quote
        index = quote + 1
        if sawNonASCII {
            guard UTF8Validator.isValid(UnsafeRawBufferPointer(rebasing: bytes[range])) else {
                throw JSONParseError(offset: start, reason: "invalid UTF-8")
            }
        }
        return range
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, no control characters.
        if let range = try scanPlainString() {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
        index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte == UInt8(ascii: "\"") { break }
            index += 1
        }
        // Slow path: escapes.
        var scalars: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard index < bytes.count else { throw error("unterminated string") }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard UTF8Validator.isValid(scalars) else { throw JSONParseError(offset: start, reason: "invalid UTF-8") }
                return String(decoding: scalars, as: UTF8.self)
            case 0..<0x20:
                throw error("control character in a string")
            case UInt8(ascii: "\\"):
                index += 1
                guard let escape = peek() else { throw error("unterminated escape") }
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = UInt32(try parseHex4())
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("lone high surrogate")
                        }
                        index += 2
                        let low = UInt32(try parseHex4())
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid low surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw error("lone low surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid code point") }
                    scalars.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    throw error("invalid escape")
                }
            default:
                scalars.append(byte)
                index += 1
            }
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    /// An empty object sized for a typical reading (4 members): each object starts as a copy,
    /// so growing from empty (two re-hashes) is avoided. (Not `init(minimumCapacity:)` per
    /// object: the compiler leaves that call unspecialized, and the standard library then
    /// looks the storage's generic metadata up every time.)
    private static let emptyMembers = [String: JSONValue](minimumCapacity: 4)

    /// Powers of ten that are exact in a Double (10^0 ... 10^22).
    private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    ///
    /// Numbers with at most 15 significant digits and a decimal exponent within ±22 (nearly
    /// every sensor value) are computed exactly: both the digits and the power of ten are
    /// exact Doubles, so one multiplication or division rounds correctly (Clinger's fast
    /// path). Anything else goes through the standard library's correctly rounded parser.
    private mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = index
        // The digits are read with a local cursor (the stored `index` written back once):
        // through `peek()` every digit cost a reload and a store of the parser's state.
        let bytes = self.bytes
        let end = bytes.count
        var cursor = index
        @inline(__always) func digit(at position: Int) -> UInt8? {
            guard position < end else { return nil }
            let value = bytes[position] &- UInt8(ascii: "0")
            return value < 10 ? value : nil
        }
        var negative = false
        if cursor < end && bytes[cursor] == UInt8(ascii: "-") {
            negative = true
            cursor += 1
        }
        guard let first = digit(at: cursor) else {
            index = cursor
            throw error("expected a digit")
        }
        var mantissa: UInt64 = 0
        // Significant digits accumulated into `mantissa` (leading zeros do not count).
        var significantDigits = 0
        var fractionDigits = 0
        if first == 0 {
            cursor += 1
        } else {
            while let value = digit(at: cursor) {
                if significantDigits < 19 { mantissa = mantissa &* 10 &+ UInt64(value) }
                significantDigits += 1
                cursor += 1
            }
        }
        if cursor < end && bytes[cursor] == UInt8(ascii: ".") {
            cursor += 1
            guard digit(at: cursor) != nil else {
                index = cursor
                throw error("expected a fraction digit")
            }
            while let value = digit(at: cursor) {
                if mantissa != 0 || value != 0 { significantDigits += 1 }
                if significantDigits < 19 { mantissa = mantissa &* 10 &+ UInt64(value) }
                fractionDigits += 1
                cursor += 1
            }
        }
        var exponent = 0
        if cursor < end, bytes[cursor] | 0x20 == UInt8(ascii: "e") {
            cursor += 1
            var negativeExponent = false
            if cursor < end, bytes[cursor] == UInt8(ascii: "+") || bytes[cursor] == UInt8(ascii: "-") {
                negativeExponent = bytes[cursor] == UInt8(ascii: "-")
                cursor += 1
            }
            guard digit(at: cursor) != nil else {
                index = cursor
                throw error("expected an exponent digit")
            }
            while let value = digit(at: cursor) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(value) }
                cursor += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        index = cursor
        let decimalExponent = exponent - fractionDigits
        if significantDigits <= 15 && abs(decimalExponent) <= 22 {
            let digits = Double(mantissa)
            let magnitude = decimalExponent < 0 ? digits / Self.exactPowersOfTen[-decimalExponent]
                                                : digits * Self.exactPowersOfTen[decimalExponent]
            return negative ? -magnitude : magnitude
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw JSONParseError(offset: start, reason: "unrepresentable number") }
        return value
    }
}
