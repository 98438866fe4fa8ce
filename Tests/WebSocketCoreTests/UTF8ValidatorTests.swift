import Testing
import TestSupport
@testable import WebSocketCore
import UTF8Validation

@Suite("UTF-8 validation")
struct UTF8ValidatorTests {
    /// The standard library's verdict, as the reference.
    func referenceIsValid(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    @Test("known valid and invalid sequences")
    func vectors() {
        let valid: [[UInt8]] = [[], Array("Hello-µ@ßöäüàá-UTF-8!!".utf8), Array("κόσμε".utf8), [0xF4, 0x8F, 0xBF, 0xBF],
                                [0xEF, 0xBF, 0xBF], [0xED, 0x9F, 0xBF], [0xE0, 0xA0, 0x80], [0xF0, 0x90, 0x80, 0x80]]
        let invalid: [[UInt8]] = [[0x80], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
                                  [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xCE, 0xBA, 0xE1],
                                  Array("κόσμε".utf8) + [0xED, 0xA0, 0x80] + Array("edited".utf8)]
        for bytes in valid { #expect(UTF8Validator.isValid(bytes), "\(hexString(bytes))") }
        for bytes in invalid { #expect(!UTF8Validator.isValid(bytes), "\(hexString(bytes))") }
    }

    @Test("agrees with the standard library on 200,000 random sequences, whole and split at every byte")
    func differential() async {
        var generator = SeededGenerator(seed: 2026)
        let alphabet: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for round in 0..<200_000 {
            // CPU-bound: let the loopback tests running beside this one have the threads too.
            if round % 2000 == 0 { await Task.yield() }
            let length = Int.random(in: 0...(round % 10 == 0 ? 40 : 9), using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            let expected = referenceIsValid(bytes)
            #expect(UTF8Validator.isValid(bytes) == expected, "\(hexString(bytes))")
            if round % 20 == 0 {
                for cut in 0...bytes.count {
                    var validator = UTF8Validator()
                    let ok = bytes[..<cut].withUnsafeBytes { validator.validate($0) }
                        && bytes[cut...].withUnsafeBytes { validator.validate($0) }
                        && validator.isAtCodePointBoundary
                    #expect(ok == expected, "\(hexString(bytes)) cut at \(cut)")
                }
            }
        }
    }

    @Test("fails on the first invalid byte without waiting for the rest")
    func failFast() {
        var validator = UTF8Validator()
        #expect(Array("abc".utf8).withUnsafeBytes { validator.validate($0) })
        #expect(![UInt8]([0xF4, 0x90]).withUnsafeBytes { validator.validate($0) })
    }
}
