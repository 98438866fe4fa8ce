/// One element of a `Sec-WebSocket-Extensions` header (RFC 6455 section 9.1): an extension
/// name and its parameters, in the order they were written.
package struct WebSocketExtension: Hashable, Sendable {
    /// The extension token, e.g. `permessage-deflate`.
    package var name: String
    /// The parameters: a name and, when it has one, its value (a quoted value unquoted).
    package var parameters: [(name: String, value: String?)]

    package init(name: String, parameters: [(name: String, value: String?)] = []) {
        self.name = name
        self.parameters = parameters
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.parameters.elementsEqual(rhs.parameters) { $0.name == $1.name && $0.value == $1.value }
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        for parameter in parameters {
            hasher.combine(parameter.name)
            hasher.combine(parameter.value)
        }
    }

    /// The element as a header writes it: `name; p1; p2=v`.
    package var headerText: String {
        ([name] + parameters.map { parameter in parameter.value.map { "\(parameter.name)=\($0)" } ?? parameter.name })
            .joined(separator: "; ")
    }

    /// Parses a whole header value: extensions separated by commas, each with `;` parameters.
    ///
    /// Returns nil when the value does not follow the grammar (an empty element, a character
    /// outside a token, an unterminated quoted string, a quoted value that is not a token).
    package static func parseList(_ value: String) -> [WebSocketExtension]? {
        var scanner = ExtensionScanner(Array(value.utf8))
        var extensions: [WebSocketExtension] = []
        repeat {
            scanner.skipWhitespace()
            if scanner.atEnd && extensions.isEmpty { return [] }
            guard let name = scanner.token() else { return nil }
            var element = WebSocketExtension(name: name)
            scanner.skipWhitespace()
            while scanner.take(UInt8(ascii: ";")) {
                scanner.skipWhitespace()
                guard let parameter = scanner.token() else { return nil }
                scanner.skipWhitespace()
                var parameterValue: String?
                if scanner.take(UInt8(ascii: "=")) {
                    scanner.skipWhitespace()
                    guard let text = scanner.quotedString() ?? scanner.token(), isToken(text) else { return nil }
                    parameterValue = text
                    scanner.skipWhitespace()
                }
                element.parameters.append((parameter, parameterValue))
            }
            extensions.append(element)
            scanner.skipWhitespace()
        } while scanner.take(UInt8(ascii: ","))
        return scanner.atEnd ? extensions : nil
    }

    /// Whether `text` is a non-empty RFC 9110 token.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(ExtensionScanner.isTokenByte)
    }
}

/// A cursor over a header value's bytes for ``WebSocketExtension/parseList(_:)``.
private struct ExtensionScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func token() -> String? {
        let start = index
        while index < bytes.count, Self.isTokenByte(bytes[index]) { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    /// A quoted string with its quotes and escapes removed, or nil (and nothing consumed)
    /// when none starts here or it is not terminated.
    mutating func quotedString() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        var cursor = index + 1
        var text: [UInt8] = []
        while cursor < bytes.count {
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                index = cursor + 1
                return String(decoding: text, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                cursor += 1
                guard cursor < bytes.count else { return nil }
            }
            text.append(bytes[cursor])
            cursor += 1
        }
        return nil
    }
}
