import Foundation

/// Any JSON value: what a sensor reports in `sensor_readings`, whatever its shape.
///
/// ```swift
/// let readings: JSONValue = ["temperature": 21.5, "unit": "C"]
/// readings["temperature"]?.doubleValue   // 21.5
/// let typed = try readings.decode(Weather.self)
/// ```
public enum JSONValue: Sendable, Hashable {
    /// JSON `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Every JSON number, as a Double (integers up to 2^53 are exact).
    case number(Double)
    /// A string (any Unicode text; escapes already resolved).
    case string(String)
    /// An array, elements in order.
    case array([JSONValue])
    /// An object: its members by name (a name given twice keeps the last value, as most parsers do).
    case object([String: JSONValue])

    /// The Bool, if this is a boolean.
    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The number, if this is a number.
    public var doubleValue: Double? { if case .number(let value) = self { value } else { nil } }
    /// The number as an Int, if this is a number with no fractional part that fits.
    public var intValue: Int? {
        guard case .number(let value) = self, value.rounded() == value, let int = Int(exactly: value) else { return nil }
        return int
    }
    /// The string, if this is a string.
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    /// The members, if this is an object.
    public var objectValue: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// The member named `key`, if this is an object that has it.
    /// - Parameter key: The member's name.
    public subscript(key: String) -> JSONValue? { objectValue?[key] }
    /// The element at `index`, if this is an array long enough.
    /// - Parameter index: The element's position, from 0.
    public subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// Decodes this value into a `Decodable` type (through JSONDecoder).
    /// - Parameters:
    ///   - type: The type to decode (inferred from the context when left out).
    ///   - decoder: The decoder, for its strategies (dates, keys ...).
    /// - Returns: The decoded value.
    /// - Throws: `DecodingError` when the shape does not match.
    public func decode<T: Decodable>(_ type: T.Type = T.self, using decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(T.self, from: JSONEncoder().encode(self))
    }
}

extension JSONValue: Codable {
    /// Decodes any JSON value.
    /// - Parameter decoder: The decoder to read from.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let bool = try? container.decode(Bool.self) {
            self = .bool(bool)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let string = try? container.decode(String.self) {
            self = .string(string)
        } else if let array = try? container.decode([JSONValue].self) {
            self = .array(array)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value as JSON.
    /// - Parameter encoder: The encoder to write to.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    /// `nil` as ``null``.
    /// - Parameter nilLiteral: The `nil` literal.
    public init(nilLiteral: ()) { self = .null }
    /// `true` or `false` as ``bool(_:)``.
    /// - Parameter value: The literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal as ``number(_:)``.
    /// - Parameter value: The literal (exact up to 2^53).
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A floating-point literal as ``number(_:)``.
    /// - Parameter value: The literal.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A string literal as ``string(_:)``.
    /// - Parameter value: The literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array literal as ``array(_:)``.
    /// - Parameter elements: The elements, in order.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal as ``object(_:)``; a key given twice keeps the last value.
    /// - Parameter elements: The members.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON text, keys sorted.
    public var description: String {
        JSONSerializer.serialize(self)
    }
}
