import Foundation

/// A date and time without time zone, as `datetime2(7)`, `datetime` and `smalldatetime` hold it.
public struct SQLDateTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var date: SQLDate
    public var time: SQLTime

    public init(date: SQLDate, time: SQLTime) {
        self.date = date
        self.time = time
    }

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, nanosecond: Int = 0) {
        self.init(date: SQLDate(year: year, month: month, day: day),
                  time: SQLTime(hour: hour, minute: minute, second: second, nanosecond: nanosecond))
    }

    /// The wall-clock reading of `date` in UTC (sub-100 ns digits dropped).
    public init(_ date: Date) {
        let seconds = date.timeIntervalSince1970
        var whole = seconds.rounded(.down)
        var nanos = Int(((seconds - whole) * 1e7).rounded()) * 100
        if nanos >= 1_000_000_000 { whole += 1; nanos -= 1_000_000_000 }
        let total = Int(whole)
        let days = Int((Double(total) / 86400).rounded(.down))
        let secondOfDay = total - days * 86400
        self.init(date: SQLDate(daysSince1900: days + 25567),
                  time: SQLTime(hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60, nanosecond: nanos))
    }

    /// This wall-clock reading taken as UTC. (`Date` keeps about microseconds near today.)
    public var dateValue: Date {
        let days = date.daysSince1900 - 25567
        let seconds = Double(days * 86400 + time.hour * 3600 + time.minute * 60 + time.second)
        return Date(timeIntervalSince1970: seconds + Double(time.nanosecond) / 1e9)
    }

    /// `2024-02-29 13:45:07.1234567`.
    public var description: String { "\(date) \(time)" }

    public static func < (lhs: SQLDateTime, rhs: SQLDateTime) -> Bool {
        (lhs.date, lhs.time) < (rhs.date, rhs.time)
    }
}
