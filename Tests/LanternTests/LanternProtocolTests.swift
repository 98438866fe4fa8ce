import Lantern
import Testing

/// Blink, the made-up command the README adds: 0x30 with a 2-byte period in milliseconds.
struct Blink: Sendable, Hashable {
    var periodMilliseconds: UInt16
}

/// The registry with BLINK added, as the README shows it.
func blinkRegistry() -> LanternCommandRegistry {
    var registry = LanternCommandRegistry.standard
    registry.register(type: 0x30, name: "BLINK") { value in
        value.count == 2 ? Blink(periodMilliseconds: UInt16(value[0]) << 8 | UInt16(value[1])) : nil
    }
    return registry
}

/// The TLV protocol without sockets: decoder, registry, state reduction, colors.
@Suite("Lantern protocol without sockets")
struct LanternProtocolTests {
    /// ON, an unknown type with a value, COLOR red, OFF with a wrong length, COLOR with a wrong
    /// length, an unknown type with no value, BLINK 500 ms, OFF.
    static let stream: [UInt8] = [0x12, 0x00, 0x00,
                                  0x7f, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,
                                  0x20, 0x00, 0x03, 0xff, 0x00, 0x00,
                                  0x13, 0x00, 0x01, 0x99,
                                  0x20, 0x00, 0x02, 0x01, 0x02,
                                  0x55, 0x00, 0x00,
                                  0x30, 0x00, 0x02, 0x01, 0xf4,
                                  0x13, 0x00, 0x00]

    static let expected: [LanternDecoder.Output] = [
        .command(.on), .unknown(type: 0x7f, length: 4), .command(.color(LanternColor(red: 255, green: 0, blue: 0))),
        .malformed(type: 0x13, length: 1), .malformed(type: 0x20, length: 2), .unknown(type: 0x55, length: 0),
        .command(.registered(name: "BLINK", type: 0x30, value: LanternCommandValue(Blink(periodMilliseconds: 500)))),
        .command(.off),
    ]

    @Test("the decoder gives the same records however the stream is split (every byte boundary, and byte by byte)")
    func splits() {
        for cut in 0...Self.stream.count {
            var decoder = LanternDecoder(registry: blinkRegistry())
            var outputs: [LanternDecoder.Output] = []
            decoder.feed(Self.stream[..<cut], into: &outputs)
            decoder.feed(Self.stream[cut...], into: &outputs)
            #expect(outputs == Self.expected, "cut at \(cut)")
        }
        var decoder = LanternDecoder(registry: blinkRegistry())
        var outputs: [LanternDecoder.Output] = []
        for byte in Self.stream { decoder.feed(CollectionOfOne(byte), into: &outputs) }
        #expect(outputs == Self.expected)
    }

    @Test("without the registration BLINK is an unknown type, skipped, and the next command still decodes")
    func unknownWithoutRegistration() {
        var decoder = LanternDecoder()
        var outputs: [LanternDecoder.Output] = []
        decoder.feed(Self.stream, into: &outputs)
        #expect(outputs[6] == .unknown(type: 0x30, length: 2))
        #expect(outputs[7] == .command(.off))
        // A 65,535-byte unknown value, fed in pieces, is read past.
        var big: [UInt8] = [0x7e, 0xff, 0xff] + [UInt8](repeating: 0x12, count: 65_535) + [0x12, 0x00, 0x00]
        var skipper = LanternDecoder()
        var skipped: [LanternDecoder.Output] = []
        while !big.isEmpty {
            skipper.feed(big.prefix(1000), into: &skipped)
            big.removeFirst(min(1000, big.count))
        }
        #expect(skipped == [.unknown(type: 0x7e, length: 65_535), .command(.on)])
    }

    @Test("the state is a fold of the commands: starts off and white; registered commands change it only if they say how")
    func reduction() {
        let commands: [LanternCommand] = [.color(LanternColor(red: 1, green: 2, blue: 3)), .on, .registered(name: "BLINK", type: 0x30, value: LanternCommandValue(Blink(periodMilliseconds: 9))), .off, .on]
        let states = commands.reduce(into: [LanternState()]) { states, command in states.append(states.last!.applying(command, registry: blinkRegistry())) }
        #expect(states.first == LanternState(isOn: false, color: .white))
        #expect(states.map(\.isOn) == [false, false, true, true, false, true])
        #expect(states.last?.color == LanternColor(red: 1, green: 2, blue: 3))
        // A registration with an effect: STROBE (0x31, no value) turns the lantern on and white.
        var registry = LanternCommandRegistry.standard
        registry.register(type: 0x31, name: "STROBE", decode: { $0.isEmpty ? true : nil }, apply: { state, _ in
            state.isOn = true
            state.color = .white
        })
        var decoder = LanternDecoder(registry: registry)
        var outputs: [LanternDecoder.Output] = []
        decoder.feed([0x20, 0, 3, 9, 9, 9, 0x31, 0, 0], into: &outputs)
        let final = outputs.reduce(LanternState()) { state, output in
            guard case .command(let command) = output else { return state }
            return state.applying(command, registry: registry)
        }
        #expect(final == LanternState(isOn: true, color: .white))
    }

    @Test("colors: 6 hex digits, any case, optional #; the encodings of the built-in commands")
    func colors() {
        #expect(LanternColor(hex: "ff0000") == LanternColor(red: 255, green: 0, blue: 0))
        #expect(LanternColor(hex: "#00FF7f") == LanternColor(red: 0, green: 255, blue: 127))
        for bad in ["", "#", "ff000", "ff00000", "gg0000", "##ff0000", " ff0000", "+f0000", "ff 000"] {
            #expect(LanternColor(hex: bad) == nil, "\(bad)")
        }
        #expect(LanternColor(red: 10, green: 171, blue: 255).hex == "0aabff")
        #expect(LanternCommand.color(LanternColor(red: 255, green: 0, blue: 0)).encoded == [0x20, 0x00, 0x03, 0xff, 0x00, 0x00])
        #expect(LanternCommand.on.encoded == [0x12, 0, 0] && LanternCommand.off.encoded == [0x13, 0, 0])
        #expect(LanternState(isOn: true, color: LanternColor(red: 1, green: 2, blue: 3)).commandBytes == [0x12, 0, 0, 0x20, 0, 3, 1, 2, 3])
    }

    @Test("the README's BLINK, as written there, decodes 30 00 02 01 f4 to a 500 ms blink")
    func readmeBlink() {
        var configuration = LanternClient.Configuration()
        configuration.registry.register(type: 0x30, name: "BLINK") { value in
            value.count == 2 ? Blink(periodMilliseconds: UInt16(value[0]) << 8 | UInt16(value[1])) : nil
        }
        var decoder = LanternDecoder(registry: configuration.registry)
        var outputs: [LanternDecoder.Output] = []
        decoder.feed([0x30, 0x00, 0x02, 0x01, 0xf4, 0x30, 0x00, 0x01, 0x05], into: &outputs)
        guard case .command(.registered("BLINK", 0x30, let value))? = outputs.first else {
            Issue.record("\(outputs)")
            return
        }
        #expect(value.as(Blink.self) == Blink(periodMilliseconds: 500))
        #expect(outputs.last == .malformed(type: 0x30, length: 1), "a 1-byte BLINK is malformed")
    }
}
