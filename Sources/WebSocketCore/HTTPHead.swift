import UTF8Validation

/// The head of an HTTP/1.1 request or response (start line and header fields), as the
/// opening handshake needs it (RFC 6455 section 4, RFC 9112).
package struct HTTPHead: Sendable, Hashable {
    /// The start line: `GET /path HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`.
    package var startLine: String
    /// Header fields in order, names as received.
    package var fields: [(name: String, value: String)]

    package init(startLine: String, fields: [(name: String, value: String)]) {
        self.startLine = startLine
        self.fields = fields
    }

    /// The value of the first field named `name` (case-insensitive), if any.
    package subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }?.value
    }

    /// The values of every field named `name` joined with ", " (RFC 9110 section 5.3), or nil.
    package func combinedValue(_ name: String) -> String? {
        let lowered = name.lowercased()
        let values = fields.filter { $0.name.lowercased() == lowered }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Every value of fields named `name`, each split at commas into trimmed tokens.
    package func tokens(_ name: String) -> [String] {
        let lowered = name.lowercased()
        return fields.filter { $0.name.lowercased() == lowered }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingHTTPWhitespace() }
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.startLine == rhs.startLine && lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(startLine)
        for field in fields { hasher.combine(field.name); hasher.combine(field.value) }
    }

    /// Serializes the head, ending with the empty line.
    package var bytes: [UInt8] {
        var text = startLine + "\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }
}

/// Why an HTTP head could not be read.
package enum HTTPHeadError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The head grew past the configured limit before its empty line.
    case tooLarge(limit: Int)
    /// A line that is not a valid start line or `name: value` field.
    case malformed(String)

    package var description: String {
        switch self {
        case .tooLarge(let limit): "HTTP head larger than \(limit) bytes"
        case .malformed(let what): "malformed HTTP head: \(what)"
        }
    }
}

/// Accumulates bytes until a complete HTTP head (ending in CRLF CRLF) is in, bounded in size.
/// Bytes after the head (the first WebSocket frames, if the peer sent them at once) are kept.
package struct HTTPHeadReader: Sendable {
    package let maxSize: Int
    private var buffer: [UInt8] = []
    private var searchedUpTo = 0
    private var startLineEnded = false

    package init(maxSize: Int) {
        self.maxSize = maxSize
    }

    /// Adds received bytes. Returns the head and the bytes that followed it once the empty
    /// line is in, or nil if more bytes are needed.
    /// - Throws: ``HTTPHeadError`` if the head exceeds `maxSize` or is malformed.
    package mutating func append(_ bytes: UnsafeRawBufferPointer) throws(HTTPHeadError) -> (head: HTTPHead, rest: [UInt8])? {
        let start = buffer.count
        buffer.append(contentsOf: bytes)
        // The start line is text: a control byte before its end (a TLS hello on a plaintext
        // port, binary junk) fails at once instead of waiting for a CR LF CR LF that never comes.
        if !startLineEnded {
            for byte in buffer[start...] {
                if byte == 13 || byte == 10 {
                    startLineEnded = true
                    break
                }
                if byte < 0x20 && byte != 9 || byte == 0x7F { throw .malformed("start line") }
            }
        }
        // Look for CR LF CR LF, resuming where the last search stopped.
        var index = max(0, searchedUpTo - 3)
        while index + 3 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                let headEnd = index + 4
                if headEnd > maxSize { throw .tooLarge(limit: maxSize) }
                let head = try Self.parse(buffer[..<index])
                return (head, Array(buffer[headEnd...]))
            }
            index += 1
        }
        searchedUpTo = buffer.count
        if buffer.count > maxSize { throw .tooLarge(limit: maxSize) }
        return nil
    }

    /// Parses the head's lines (without the final empty line).
    private static func parse(_ bytes: ArraySlice<UInt8>) throws(HTTPHeadError) -> HTTPHead {
        // Header field values are ISO-8859-1 text in practice; anything not UTF-8 is refused.
        guard UTF8Validator.isValid(Array(bytes)) else { throw .malformed("not UTF-8") }
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty, !lines[0].isEmpty else { throw .malformed("empty start line") }
        let startLine = lines.removeFirst()
        var fields: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw .malformed("field without a colon") }
            let name = String(line[..<colon])
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenCharacter) else {
                throw .malformed("invalid field name")
            }
            let value = line[line.index(after: colon)...].trimmingHTTPWhitespace()
            guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                throw .malformed("control character in a field value")
            }
            fields.append((name, value))
        }
        return HTTPHead(startLine: startLine, fields: fields)
    }

    /// RFC 9110 `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func trimmingHTTPWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
