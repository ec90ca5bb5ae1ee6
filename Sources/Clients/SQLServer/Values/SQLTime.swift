/// A time of day as SQL Server's `time(7)` holds it: 100-nanosecond resolution.
public struct SQLTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// Nanoseconds within the second (SQL Server keeps multiples of 100).
    public var nanosecond: Int

    public init(hour: Int, minute: Int, second: Int, nanosecond: Int = 0) {
        self.hour = hour
        self.minute = minute
        self.second = second
        self.nanosecond = nanosecond
    }

    /// From 100-nanosecond ticks since midnight (db-lib's `DBDATETIMEALL.time`).
    public init(ticksSinceMidnight ticks: UInt64) {
        let seconds = Int(ticks / 10_000_000)
        self.init(hour: seconds / 3600, minute: seconds / 60 % 60, second: seconds % 60,
                  nanosecond: Int(ticks % 10_000_000) * 100)
    }

    /// 100-nanosecond ticks since midnight (sub-100 ns digits are dropped).
    public var ticksSinceMidnight: UInt64 {
        UInt64((hour * 3600 + minute * 60 + second)) * 10_000_000 + UInt64(nanosecond / 100)
    }

    /// `13:45:07.1234567` (seven fractional digits, as `time(7)` prints).
    public var description: String { formatted(fractionalDigits: 7) }

    /// `hh:mm:ss` followed by `digits` fractional digits (0...9).
    public func formatted(fractionalDigits digits: Int) -> String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var text = "\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
        if digits > 0 {
            text += "." + pad(nanosecond, 9).prefix(min(digits, 9))
        }
        return text
    }

    public static func < (lhs: SQLTime, rhs: SQLTime) -> Bool {
        (lhs.hour, lhs.minute, lhs.second, lhs.nanosecond) < (rhs.hour, rhs.minute, rhs.second, rhs.nanosecond)
    }
}
