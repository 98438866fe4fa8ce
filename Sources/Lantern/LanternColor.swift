/// A lantern's color: red, green and blue, 0...255 each.
public struct LanternColor: Sendable, Hashable, CustomStringConvertible {
    /// Red.
    public var red: UInt8
    /// Green.
    public var green: UInt8
    /// Blue.
    public var blue: UInt8

    /// A color from its components.
    /// - Parameters:
    ///   - red: Red, 0...255.
    ///   - green: Green, 0...255.
    ///   - blue: Blue, 0...255.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// White, a lantern's color before any COLOR command.
    public static let white = LanternColor(red: 255, green: 255, blue: 255)

    /// Reads 6 hex digits, any case, with an optional leading `#` (`ff0000`, `#00FF00`); nil otherwise.
    /// - Parameter hex: The text.
    public init?(hex: String) {
        var digits = Substring(hex)
        if digits.hasPrefix("#") { digits = digits.dropFirst() }
        guard digits.utf8.count == 6, digits.utf8.allSatisfy({ $0 < 0x80 && ($0 as UInt8).isHexDigit }),
              let value = UInt32(digits, radix: 16) else { return nil }
        self.init(red: UInt8(value >> 16), green: UInt8(value >> 8 & 0xFF), blue: UInt8(value & 0xFF))
    }

    /// Six lower-case hex digits, `ff0000`.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for component in [red, green, blue] {
            bytes.append(digits[Int(component >> 4)])
            bytes.append(digits[Int(component & 0xF)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `#ff0000`.
    public var description: String { "#" + hex }
}

extension UInt8 {
    /// Whether this ASCII byte is 0-9, a-f or A-F.
    var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
