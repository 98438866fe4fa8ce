import Foundation
import FuzzTargets
import Testing

/// Replays the committed fuzz corpus (seeds and every reproducer the fuzzer found) through the
/// fuzz targets, which check their invariants with `precondition`: a regression crashes here.
@Suite("Fuzz corpus replay")
struct FuzzCorpusTests {
    static let corpusRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func inputs(of target: FuzzTarget) throws -> [(name: String, bytes: [UInt8])] {
        let directory = corpusRoot.appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test("every committed input passes its target's checks", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) async throws {
        let inputs = try Self.inputs(of: target)
        #expect(inputs.count >= 3, "the \(target.rawValue) corpus is missing")
        for (index, input) in inputs.enumerated() {
            target.run(input.bytes)
            if index % 32 == 0 { await Task.yield() }
        }
    }
}
