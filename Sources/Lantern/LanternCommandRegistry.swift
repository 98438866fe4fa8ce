/// Which TLV types a lantern understands, and how to decode their values: `ON`, `OFF` and
/// `COLOR` built in (``standard``), more with one ``register(type:name:decode:apply:)`` each.
///
/// ```swift
/// var registry = LanternCommandRegistry.standard
/// registry.register(type: 0x30, name: "BLINK") { value in
///     value.count == 2 ? UInt16(value[0]) << 8 | UInt16(value[1]) : nil   // period in ms
/// }
/// ```
public struct LanternCommandRegistry: Sendable {
    /// One command type.
    public struct Entry: Sendable {
        /// Its name (`BLINK`).
        public let name: String
        /// Its value's decoder: the command, or nil when the value is malformed (the command is
        /// then ignored and counted, like a built-in one with a wrong length).
        public let decode: @Sendable ([UInt8]) -> LanternCommand?
        /// What it does to the lantern's state (nothing by default).
        public let apply: @Sendable (inout LanternState, LanternCommand) -> Void
    }

    /// The entries by type byte.
    public private(set) var entries: [UInt8: Entry] = [:]

    /// An empty registry: every type is unknown.
    public init() {}

    /// `ON` (0x12, no value), `OFF` (0x13, no value) and `COLOR` (0x20, R G B).
    public static let standard: LanternCommandRegistry = {
        var registry = LanternCommandRegistry()
        registry.entries[LanternCommand.onType] = Entry(name: "ON", decode: { $0.isEmpty ? .on : nil }, apply: { state, _ in state.isOn = true })
        registry.entries[LanternCommand.offType] = Entry(name: "OFF", decode: { $0.isEmpty ? .off : nil }, apply: { state, _ in state.isOn = false })
        registry.entries[LanternCommand.colorType] = Entry(
            name: "COLOR", decode: { $0.count == 3 ? .color(LanternColor(red: $0[0], green: $0[1], blue: $0[2])) : nil },
            apply: { state, command in if case .color(let color) = command { state.color = color } })
        return registry
    }()

    /// Adds (or replaces) a command type.
    /// - Parameters:
    ///   - type: Its type byte.
    ///   - name: Its name, as ``LanternCommand/registered(name:type:value:)`` carries it.
    ///   - decode: Reads the value bytes; nil when they are malformed (wrong length ...).
    ///   - apply: What the command does to the state; by default nothing.
    public mutating func register<Value: Sendable & Hashable>(
        type: UInt8, name: String, decode: @escaping @Sendable ([UInt8]) -> Value?,
        apply: @escaping @Sendable (inout LanternState, Value) -> Void = { _, _ in }
    ) {
        entries[type] = Entry(
            name: name,
            decode: { bytes in decode(bytes).map { .registered(name: name, type: type, value: LanternCommandValue($0)) } },
            apply: { state, command in
                if case .registered(_, _, let value) = command, let typed = value.as(Value.self) { apply(&state, typed) }
            })
    }

    /// The command type `type` is registered as, if any.
    /// - Parameter type: A type byte.
    /// - Returns: Its entry.
    public func entry(for type: UInt8) -> Entry? { entries[type] }
}
