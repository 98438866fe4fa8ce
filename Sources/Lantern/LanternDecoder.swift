/// Splits the control server's byte stream into TLV commands (type: 1 byte, length: 2 bytes
/// big-endian, value: length bytes) and decodes them with a ``LanternCommandRegistry``.
/// Resumable at any split. Values of unknown types are skipped without being buffered.
public struct LanternDecoder: Sendable {
    /// What one TLV record turned out to be.
    public enum Output: Sendable, Hashable {
        /// A command the registry decoded.
        case command(LanternCommand)
        /// A type the registry does not know: skipped (its value read past).
        case unknown(type: UInt8, length: Int)
        /// A known type whose value the decoder refused (a wrong length ...): ignored.
        case malformed(type: UInt8, length: Int)
    }

    private enum Stage: Sendable {
        case type
        case length(type: UInt8, high: UInt8?)
        /// Reading a known type's value.
        case value(type: UInt8, length: Int)
        /// Reading past an unknown type's value.
        case skip(type: UInt8, length: Int, remaining: Int)
    }

    /// The registry it decodes with.
    public let registry: LanternCommandRegistry
    private var stage = Stage.type
    private var value: [UInt8] = []

    /// A decoder for `registry`'s commands.
    /// - Parameter registry: The known types; default ``LanternCommandRegistry/standard``.
    public init(registry: LanternCommandRegistry = .standard) {
        self.registry = registry
    }

    /// Appends what `input` completes, in order.
    /// - Parameters:
    ///   - input: The bytes just read.
    ///   - outputs: Where the records go.
    public mutating func feed(_ input: some Collection<UInt8>, into outputs: inout [Output]) {
        var index = input.startIndex
        while index != input.endIndex {
            switch stage {
            case .type:
                stage = .length(type: input[index], high: nil)
                index = input.index(after: index)
            case .length(let type, nil):
                stage = .length(type: type, high: input[index])
                index = input.index(after: index)
            case .length(let type, let high?):
                let length = Int(high) << 8 | Int(input[index])
                index = input.index(after: index)
                if registry.entry(for: type) == nil {
                    stage = length == 0 ? .type : .skip(type: type, length: length, remaining: length)
                    if length == 0 { outputs.append(.unknown(type: type, length: 0)) }
                } else if length == 0 {
                    stage = .type
                    outputs.append(decode(type: type, value: []))
                } else {
                    stage = .value(type: type, length: length)
                    value.removeAll(keepingCapacity: true)
                }
            case .value(let type, let length):
                let take = min(length - value.count, input.distance(from: index, to: input.endIndex))
                let end = input.index(index, offsetBy: take)
                value += input[index..<end]
                index = end
                if value.count == length {
                    stage = .type
                    outputs.append(decode(type: type, value: value))
                }
            case .skip(let type, let length, let remaining):
                let take = min(remaining, input.distance(from: index, to: input.endIndex))
                index = input.index(index, offsetBy: take)
                if take == remaining {
                    stage = .type
                    outputs.append(.unknown(type: type, length: length))
                } else {
                    stage = .skip(type: type, length: length, remaining: remaining - take)
                }
            }
        }
    }

    private func decode(type: UInt8, value: [UInt8]) -> Output {
        guard let command = registry.entry(for: type)?.decode(value) else { return .malformed(type: type, length: value.count) }
        return .command(command)
    }
}
