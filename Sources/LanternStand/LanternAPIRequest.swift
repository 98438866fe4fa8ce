import Lantern
import SensorWire

/// What a control-API request asks for, read from its JSON body without sockets:
/// `{"method": "message", "params": {"command": "COLOR", "value": "ff0000"}}` or
/// `{"method": "raw", "params": {"hex": "300002..."}}`.
package enum LanternAPIRequest: Sendable, Hashable {
    /// A built-in command to every lantern.
    case command(LanternCommand)
    /// Bytes to every lantern, as they are.
    case raw([UInt8])

    /// Reads a request body; the error text says what is wrong (an HTTP 400).
    package static func parse(_ body: [UInt8]) -> Result<LanternAPIRequest, LanternAPIError> {
        let parsed = body.withUnsafeBytes { bytes in Result { () throws(JSONParseError) in try JSONParser.parse(bytes, maxDepth: 8) } }
        let json: JSONValue
        switch parsed {
        case .success(let value): json = value
        case .failure(let error): return .failure(LanternAPIError("invalid JSON: \(error.reason)"))
        }
        guard let object = json.objectValue else { return .failure(LanternAPIError("the body must be a JSON object")) }
        if let extra = Set(object.keys).subtracting(["method", "params"]).sorted().first { return .failure(LanternAPIError("unknown member \"\(extra)\"")) }
        guard let method = object["method"]?.stringValue else { return .failure(LanternAPIError("\"method\" must be a string")) }
        guard let params = object["params"]?.objectValue else { return .failure(LanternAPIError("\"params\" must be an object")) }
        switch method {
        case "message":
            if let extra = Set(params.keys).subtracting(["command", "value"]).sorted().first { return .failure(LanternAPIError("unknown parameter \"\(extra)\"")) }
            guard let name = params["command"]?.stringValue else { return .failure(LanternAPIError("\"command\" must be a string")) }
            let value = params["value"]
            switch name.uppercased() {
            case "ON", "OFF":
                guard value == nil else { return .failure(LanternAPIError("\(name.uppercased()) takes no value")) }
                return .success(.command(name.uppercased() == "ON" ? .on : .off))
            case "COLOR":
                guard let text = value?.stringValue else { return .failure(LanternAPIError("COLOR needs a \"value\": 6 hex digits such as \"ff0000\"")) }
                guard let color = LanternColor(hex: text) else { return .failure(LanternAPIError("COLOR value \"\(text)\" is not 6 hex digits")) }
                return .success(.command(.color(color)))
            default:
                return .failure(LanternAPIError("unknown command \"\(name)\" (ON, OFF, COLOR)"))
            }
        case "raw":
            if let extra = Set(params.keys).subtracting(["hex"]).sorted().first { return .failure(LanternAPIError("unknown parameter \"\(extra)\"")) }
            guard let hex = params["hex"]?.stringValue else { return .failure(LanternAPIError("\"hex\" must be a string")) }
            guard let bytes = Self.bytes(hex: hex), !bytes.isEmpty else { return .failure(LanternAPIError("\"hex\" must be an even number of hex digits, at least 2")) }
            return .success(.raw(bytes))
        default:
            return .failure(LanternAPIError("unknown method \"\(method)\" (message, raw)"))
        }
    }

    /// Hex digits (any case, an even number, spaces not allowed) as bytes.
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0, digits.allSatisfy(\.isHexDigitByte) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            bytes.append(UInt8(hexValue(digits[index]) << 4 | hexValue(digits[index + 1])))
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: digit - UInt8(ascii: "A") + 10
        }
    }
}

/// Why an API request is refused.
package struct LanternAPIError: Error, Sendable, Hashable {
    package let message: String
    package init(_ message: String) { self.message = message }
}

extension UInt8 {
    var isHexDigitByte: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
