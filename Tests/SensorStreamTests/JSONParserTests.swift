import Foundation
import Testing
import TestSupport
@testable import SensorStream
import SensorWire

@Suite("JSON parser")
struct JSONParserTests {
    /// JSONTestSuite's parsing corpus (MIT licence), copied beside this file.
    static let corpus: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("JSONTestSuite/test_parsing")

    func parse(_ data: Data) -> Result<JSONValue, JSONParseError> {
        data.withUnsafeBytes { bytes in Result { () throws(JSONParseError) in try JSONParser.parse(bytes) } }
    }

    @Test("JSONTestSuite: every y_ file is accepted, every n_ file rejected, no i_ file crashes")
    func conformance() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count == 318)
        var implementationDefined: [String: Bool] = [:]
        for file in files {
            let data = try Data(contentsOf: Self.corpus.appendingPathComponent(file))
            let result = parse(data)
            switch file.prefix(2) {
            case "y_": if case .failure(let error) = result { Issue.record("\(file) rejected: \(error)") }
            case "n_": if case .success(let value) = result { Issue.record("\(file) accepted as \(value)") }
            default: implementationDefined[file] = (try? result.get()) != nil
            }
        }
        // The choices documented on JSONParser: invalid UTF-8, lone surrogates, BOMs and
        // overflowing numbers are rejected; underflowing and huge-precision numbers accepted.
        #expect(implementationDefined["i_string_lone_second_surrogate.json"] == false)
        #expect(implementationDefined["i_string_invalid_utf-8.json"] == false)
        #expect(implementationDefined["i_structure_UTF-8_BOM_empty_object.json"] == false)
        #expect(implementationDefined["i_number_huge_exp.json"] == false)
        #expect(implementationDefined["i_number_double_huge_neg_exp.json"] == true)
    }

    @Test("agrees with Foundation's decoder on sensor messages and tricky values")
    func differential() throws {
        let documents = [
            #"{"event":"new_sensor_data","data":{"sensor_id":"CE7238J","sensor_readings":{"temperature":21.5,"humidity":45,"ok":true,"tags":["a","b"],"none":null}}}"#,
            #"[0, -0, 1e3, -1.5E-3, 123456789012345678, 9007199254740993, 0.1, 1.7976931348623157e308]"#,
            #"{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 é 😀", "nested":[[[{}]]], "empty":""}"#,
            "  \n\t[ ]  ",
        ]
        for document in documents {
            let ours = try JSONParser.parse(document)
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))
            #expect(ours == foundation, "\(document)")
        }
    }

    @Test("numbers: the exact fast path and the general path give the correctly rounded Double, bit for bit")
    func numbers() throws {
        var generator = SeededGenerator(seed: 11)
        var texts = ["0", "-0", "0.0", "-0.0", "1", "0.1", "0.3", "2.5e-3", "123456789012345", "1234567890123456",
                     "9007199254740993", "0.000000000000000000001", "1e22", "1e23", "1e-22", "1e-23", "4.35", "21.55",
                     "99999999999999.9", "999999999999999.9", "1.7976931348623157e308", "5e-324", "2.2250738585072014E-308",
                     "0.1e1", "10E-1", "123.456e2", "-987.65e-5", "1e-400", "100000000000000000000000"]
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...18, using: &generator)
            var text = Bool.random(using: &generator) ? "-" : ""
            let mantissa = String(UInt64.random(in: 0...(digits >= 19 ? UInt64.max : UInt64(pow(10, Double(digits))) - 1), using: &generator))
            let point = Int.random(in: 0...mantissa.count, using: &generator)
            let integerPart = String(mantissa.prefix(point))
            text += integerPart.isEmpty ? "0" : String(integerPart.drop { $0 == "0" }.isEmpty ? "0" : integerPart.drop { $0 == "0" })
            if point < mantissa.count { text += "." + mantissa.dropFirst(point) }
            if Bool.random(using: &generator) { text += "e" + String(Int.random(in: -30...30, using: &generator)) }
            texts.append(text)
        }
        for text in texts {
            let expected = try #require(Double(text), "\(text)")
            if !expected.isFinite {
                #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
                continue
            }
            let parsed = try JSONParser.parse(text)
            #expect(parsed.doubleValue?.bitPattern == expected.bitPattern, "\(text): \(String(describing: parsed)) vs \(expected)")
        }
    }

    @Test("nesting is bounded, so hostile input cannot exhaust the stack")
    func depth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect((try? JSONParser.parse(fine)) != nil)
    }
}

@Suite("JSON serializer")
struct JSONSerializerTests {
    @Test("output is compact, keys sorted, strings escaped, and parses back to the same value")
    func roundTrip() throws {
        let value: JSONValue = ["b": [1, 2.5, -0.001, 1e300, nil, true], "a": "quote \" backslash \\ newline \n tab \t bell \u{7} é 😀",
                                "n": 9007199254740992, "o": [:], "z": []]
        let text = JSONSerializer.serialize(value)
        #expect(text == #"{"a":"quote \" backslash \\ newline \n tab \t bell \u0007 é 😀","b":[1,2.5,-0.001,1e+300,null,true],"n":9007199254740992,"o":{},"z":[]}"#)
        #expect(try JSONParser.parse(text) == value)
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(foundation == value, "Foundation reads our output the same way")
    }

    @Test("random values round-trip through serializer and parser")
    func randomRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0...(depth > 3 ? 3 : 5), using: &generator) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return .number([Double.random(in: -1e6...1e6, using: &generator), Double(Int.random(in: -1000...1000, using: &generator)), 1e-7, 123.456][Int.random(in: 0...3, using: &generator)])
            case 3: return .string(String((0..<Int.random(in: 0...8, using: &generator)).map { _ in ["a", "\"", "\\", "\n", "\u{1}", "é", "😀", "/"].randomElement(using: &generator)! }))
            case 4: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in random(depth + 1) })
            default: return .object(Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0...4, using: &generator)).map { ("k\($0)", random(depth + 1)) }))
            }
        }
        for _ in 0..<2000 {
            let value = random(0)
            #expect(try JSONParser.parse(JSONSerializer.serialize(value)) == value)
        }
    }
}

@Suite("JSON string scanning")
struct JSONStringScanTests {
    @Test("a quote, backslash, control or non-ASCII byte is found at every offset of the word-wise scan")
    func everyOffset() throws {
        for length in 0..<40 {
            for position in 0..<max(length, 1) {
                for (special, expected) in [("\"", nil), ("\\n", "\n"), ("\u{1}", nil), ("é", "é"), ("\\\\", "\\")] as [(String, String?)] {
                    var content = String(repeating: "a", count: length)
                    if length > 0 {
                        let index = content.index(content.startIndex, offsetBy: position)
                        content.replaceSubrange(index...index, with: special)
                    }
                    let document = "[\"" + content + "\",1]"
                    let parsed = try? JSONParser.parse(document)
                    if length == 0 {
                        #expect(parsed == .array([.string(""), .number(1)]))
                    } else if let expected {
                        var decoded = String(repeating: "a", count: length)
                        let index = decoded.index(decoded.startIndex, offsetBy: position)
                        decoded.replaceSubrange(index...index, with: expected)
                        #expect(parsed == .array([.string(decoded), .number(1)]), "\(document)")
                    } else {
                        #expect(parsed == nil, "\(document) must be rejected")
                    }
                }
            }
        }
    }

    @Test("a non-ASCII byte just before the closing quote, in the same word or the tail, is validated: invalid UTF-8 is rejected at every offset")
    func nonASCIIBeforeTheQuote() throws {
        // The word-wise scan finds the quote and the bytes before it in one step; a lone
        // continuation byte or a truncated sequence there must still be seen.
        var checked = 0
        for length in 1..<24 {
            for position in 0..<length {
                for (bad, valid) in [([0x80], false), ([0xC3], false), ([0xFF], false), ([0xC3, 0xA9], true), ([0xE2, 0x82], false)] as [([UInt8], Bool)] {
                    var content = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    content.replaceSubrange(position..<position + 1, with: bad)
                    let document = Array("[\"".utf8) + content + Array("\",1]".utf8)
                    let parsed = document.withUnsafeBytes { try? JSONParser.parse($0) }
                    if valid {
                        #expect(parsed == .array([.string(String(decoding: content, as: UTF8.self)), .number(1)]), "\(content)")
                    } else {
                        #expect(parsed == nil, "\(content) must be rejected")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked == 23 * 24 / 2 * 5)
    }
}
