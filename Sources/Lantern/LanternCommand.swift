/// A command from the control server, decoded from its TLV form (type: 1 byte, length:
/// 2 bytes big-endian, value: length bytes).
public enum LanternCommand: Sendable, Hashable, CustomStringConvertible {
    /// `ON`, type 0x12, no value: the lantern lights.
    case on
    /// `OFF`, type 0x13, no value: the lantern goes dark.
    case off
    /// `COLOR`, type 0x20, value R, G, B: the lantern's color.
    case color(LanternColor)
    /// A command added with ``LanternCommandRegistry/register(type:name:decode:apply:)``: its
    /// name, type byte and decoded value.
    case registered(name: String, type: UInt8, value: LanternCommandValue)

    /// The type byte of `ON`.
    public static let onType: UInt8 = 0x12
    /// The type byte of `OFF`.
    public static let offType: UInt8 = 0x13
    /// The type byte of `COLOR`.
    public static let colorType: UInt8 = 0x20

    /// The TLV bytes of a built-in command; nil for a registered one (send its bytes raw).
    public var encoded: [UInt8]? {
        switch self {
        case .on: [Self.onType, 0, 0]
        case .off: [Self.offType, 0, 0]
        case .color(let color): [Self.colorType, 0, 3, color.red, color.green, color.blue]
        case .registered: nil
        }
    }

    /// `ON`, `OFF`, `COLOR #ff0000`, or a registered command's name and value.
    public var description: String {
        switch self {
        case .on: "ON"
        case .off: "OFF"
        case .color(let color): "COLOR \(color)"
        case .registered(let name, _, let value): "\(name) \(value)"
        }
    }
}

/// The decoded value of a registered command: any `Sendable & Hashable` value, compared and
/// hashed as itself. Read it back with ``as(_:)``.
public struct LanternCommandValue: Sendable, Hashable, CustomStringConvertible {
    /// The value.
    public let base: any Sendable & Hashable

    /// Wraps `base`.
    /// - Parameter base: The decoded value.
    public init(_ base: any Sendable & Hashable) {
        self.base = base
    }

    /// The value as `type`, if it is one.
    /// - Parameter type: The type the decoder returned.
    /// - Returns: The value, or nil.
    public func `as`<Value>(_ type: Value.Type) -> Value? { base as? Value }

    /// Whether both wrap equal values of the same type.
    /// - Parameters:
    ///   - lhs: A value.
    ///   - rhs: Another.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        AnyHashable(lhs.base) == AnyHashable(rhs.base)
    }

    /// Hashes the wrapped value.
    /// - Parameter hasher: The hasher.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(AnyHashable(base))
    }

    /// The wrapped value's description.
    public var description: String { "\(base)" }
}
