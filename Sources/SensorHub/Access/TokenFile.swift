import Foundation

/// Secrets read from files, so they stay out of the process list: a tokens file (one app
/// token per line with its right: `TOKEN RIGHT`, right `read`, `command` or `admin`; blank
/// lines and lines starting with `#` skipped) and a file holding one secret (its first line).
/// Errors name the file and line, never the token.
package enum TokenFile {
    /// Why a file could not be used.
    package struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// What went wrong, with the file and line; no secret.
        package let reason: String
        package var description: String { reason }
    }

    /// The tokens of a tokens file's text.
    package static func parse(_ text: String, name: String = "tokens file") throws(Failure) -> [String: AppRight] {
        var tokens: [String: AppRight] = [:]
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else {
                throw Failure(reason: "\(name) line \(index + 1): expected TOKEN RIGHT (right: read, command or admin)")
            }
            guard let right = AppRight(rawValue: String(fields[1])) else {
                // Never the field itself: a line written the other way round holds the token there.
                throw Failure(reason: "\(name) line \(index + 1): the second field is not a right (read, command or admin)")
            }
            let token = String(fields[0])
            guard tokens[token] == nil else { throw Failure(reason: "\(name) line \(index + 1): a token listed twice") }
            tokens[token] = right
        }
        guard !tokens.isEmpty else { throw Failure(reason: "\(name) lists no token") }
        return tokens
    }

    /// The tokens of the tokens file at `path`.
    package static func read(_ path: String) throws(Failure) -> [String: AppRight] {
        try parse(try contents(of: path), name: path)
    }

    /// The secret in the file at `path`: its first line, without surrounding whitespace.
    package static func secret(at path: String) throws(Failure) -> String {
        let text = try contents(of: path)
        let secret = (text.split(whereSeparator: \.isNewline).first.map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
        guard !secret.isEmpty else { throw Failure(reason: "\(path) is empty") }
        return secret
    }

    private static func contents(of path: String) throws(Failure) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(reason: "cannot read \(path)") }
        guard let text = String(data: data, encoding: .utf8) else { throw Failure(reason: "\(path) is not UTF-8 text") }
        return text
    }
}
