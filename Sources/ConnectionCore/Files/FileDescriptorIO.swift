#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// The few file calls the package's writers make, by the platform's module name (the bare
/// names are ambiguous beside Foundation's overloads), with `EINTR` retried and failures as
/// text for logs.
package enum FileDescriptorIO {
    /// `open(2)`; -1 with `errno` set on failure.
    package static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
        #if canImport(Darwin)
        Darwin.open(path, flags, mode)
        #else
        Glibc.open(path, flags, mode)
        #endif
    }

    /// `close(2)`.
    package static func close(_ descriptor: Int32) {
        #if canImport(Darwin)
        _ = Darwin.close(descriptor)
        #else
        _ = Glibc.close(descriptor)
        #endif
    }

    /// Writes every byte of `bytes`; nil, or what failed.
    package static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> String? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                #if canImport(Darwin)
                return Darwin.write(descriptor, base + offset, buffer.count - offset)
                #else
                return Glibc.write(descriptor, base + offset, buffer.count - offset)
                #endif
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return written == 0 ? "write wrote nothing" : "write failed: \(String(cString: strerror(errno)))" }
            offset += written
        }
        return nil
    }
}
