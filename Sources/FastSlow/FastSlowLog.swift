#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The server's log: one line per event, `2026-11-26 03:04:05.123 <text>`, appended to a file
/// (one `write` per line, `O_APPEND`, so lines never interleave) and handed to a handler.
final class FastSlowLog: Sendable {
    private let descriptor: Int32?
    private let handler: (@Sendable (String) -> Void)?

    /// Opens (creates) `path` for appending; nil logs to the handler only.
    init(path: String?, handler: (@Sendable (String) -> Void)?) throws(FastSlowServerError) {
        self.handler = handler
        guard let path else {
            descriptor = nil
            return
        }
        let opened = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard opened >= 0 else { throw .logFile(path: path, reason: String(cString: strerror(errno))) }
        descriptor = opened
    }

    deinit {
        if let descriptor { close(descriptor) }
    }

    /// Logs `text` with the local time in front.
    func write(_ text: String) {
        let line = Self.line(text, at: FastSlowTimestamp.now())
        if let descriptor {
            var bytes = Array((line + "\n").utf8)
            // A failed log write must not take the server down; there is nowhere to report it.
            _ = bytes.withUnsafeMutableBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
        }
        handler?(line)
    }

    /// `YYYY-MM-DD hh:mm:ss.fff text`.
    static func line(_ text: String, at time: FastSlowTimestamp) -> String {
        let stamp = time.text  // YYYYMMDDThhmmss.fff
        let digits = Array(stamp)
        let date = "\(String(digits[0..<4]))-\(String(digits[4..<6]))-\(String(digits[6..<8]))"
        let clock = "\(String(digits[9..<11])):\(String(digits[11..<13])):\(String(digits[13..<19]))"
        return "\(date) \(clock) \(text)"
    }
}

/// `write(2)`, named apart from ``FastSlowLog/write(_:)``.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
