/// What a lantern shows: on or off, and its color. A lantern starts off and white.
public struct LanternState: Sendable, Hashable, CustomStringConvertible {
    /// Whether it is lit.
    public var isOn: Bool
    /// Its color (kept while off).
    public var color: LanternColor

    /// A state.
    /// - Parameters:
    ///   - isOn: Lit or not; default off.
    ///   - color: The color; default white.
    public init(isOn: Bool = false, color: LanternColor = .white) {
        self.isOn = isOn
        self.color = color
    }

    /// The state after `command`, as `registry` defines it: the lantern's state is this
    /// function folded over the commands it received (a pure reduction, a `scan`).
    /// - Parameters:
    ///   - command: The command.
    ///   - registry: Whose entries say what each command does.
    /// - Returns: The new state.
    public func applying(_ command: LanternCommand, registry: LanternCommandRegistry = .standard) -> LanternState {
        var next = self
        let type: UInt8? = switch command {
        case .on: LanternCommand.onType
        case .off: LanternCommand.offType
        case .color: LanternCommand.colorType
        case .registered(_, let type, _): type
        }
        if let type, let entry = registry.entry(for: type) { entry.apply(&next, command) }
        return next
    }

    /// The commands that bring a lantern into this state: `ON` or `OFF`, then `COLOR`.
    public var commandBytes: [UInt8] {
        [isOn ? LanternCommand.onType : LanternCommand.offType, 0, 0, LanternCommand.colorType, 0, 3, color.red, color.green, color.blue]
    }

    /// `on #ff0000` or `off #ffffff`.
    public var description: String { "\(isOn ? "on" : "off") \(color)" }
}
