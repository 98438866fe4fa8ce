import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `current_date_time`'s format, `YYYYMMDDThhmmss.fff` (e.g. `19851019T050107.333`), written
/// from and read into calendar fields. Pure functions; the time zone is the caller's business.
public struct FastSlowTimestamp: Sendable, Hashable {
    /// The year, 0...9999.
    public var year: Int
    /// The month, 1...12.
    public var month: Int
    /// The day of the month, 1...31.
    public var day: Int
    /// The hour, 0...23.
    public var hour: Int
    /// The minute, 0...59.
    public var minute: Int
    /// The second, 0...60 (a leap second).
    public var second: Int
    /// The millisecond, 0...999.
    public var millisecond: Int

    /// A timestamp from its fields.
    /// - Parameters:
    ///   - year: See ``year``.
    ///   - month: See ``month``.
    ///   - day: See ``day``.
    ///   - hour: See ``hour``.
    ///   - minute: See ``minute``.
    ///   - second: See ``second``.
    ///   - millisecond: See ``millisecond``.
    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.millisecond = millisecond
    }

    /// Reads `YYYYMMDDThhmmss.fff`: exactly 19 characters, every field in range; nil otherwise.
    /// - Parameter text: The text, e.g. `19851019T050107.333`.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 19, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: ".") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              let millisecond = number(16..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60 else { return nil }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second, millisecond: millisecond)
    }

    /// `YYYYMMDDThhmmss.fff`, each field zero-padded.
    public var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(19)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        append(year, digits: 4); append(month, digits: 2); append(day, digits: 2)
        bytes.append(UInt8(ascii: "T"))
        append(hour, digits: 2); append(minute, digits: 2); append(second, digits: 2)
        bytes.append(UInt8(ascii: "."))
        append(millisecond, digits: 3)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The wall-clock time now, in the process's local time zone (`localtime_r`).
    public static func now() -> FastSlowTimestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var fields = tm()
        localtime_r(&seconds, &fields)
        return FastSlowTimestamp(year: Int(fields.tm_year) + 1900, month: Int(fields.tm_mon) + 1, day: Int(fields.tm_mday),
                                 hour: Int(fields.tm_hour), minute: Int(fields.tm_min), second: Int(fields.tm_sec),
                                 millisecond: Int(spec.tv_nsec / 1_000_000))
    }

    /// The moment these fields name in `timeZone`.
    /// - Parameter timeZone: The zone the fields were written in (the server's; default: this
    ///   process's).
    /// - Returns: The date; nil when the fields name none (February 30th).
    public func date(in timeZone: TimeZone = .current) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let components = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                                        nanosecond: millisecond * 1_000_000)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date
    }
}

extension FastResponse {
    /// ``currentDateTime`` as a `Date`, read in this process's time zone (the server's local
    /// time, assuming both run in the same zone); nil when the text is not
    /// `YYYYMMDDThhmmss.fff` or names no moment.
    public var date: Date? {
        FastSlowTimestamp(parsing: currentDateTime)?.date()
    }
}
