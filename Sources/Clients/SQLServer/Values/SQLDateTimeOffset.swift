import Foundation

/// A date and time with its UTC offset, as `datetimeoffset(7)` holds it. The offset is kept as sent.
public struct SQLDateTimeOffset: Sendable, Hashable, CustomStringConvertible {
    /// The local wall-clock reading (at ``offsetMinutes`` from UTC).
    public var local: SQLDateTime
    /// Minutes east of UTC (-840 … 840).
    public var offsetMinutes: Int

    public init(local: SQLDateTime, offsetMinutes: Int) {
        self.local = local
        self.offsetMinutes = offsetMinutes
    }

    /// From the UTC reading and the offset, as the TDS wire and db-lib carry it.
    public init(utc: SQLDateTime, offsetMinutes: Int) {
        self.init(local: utc.adding(minutes: offsetMinutes), offsetMinutes: offsetMinutes)
    }

    /// The same instant in UTC.
    public var utc: SQLDateTime { local.adding(minutes: -offsetMinutes) }

    /// The instant (a `Date` has no offset; about microsecond precision near today).
    public var dateValue: Date { utc.dateValue }

    /// `2024-02-29 13:45:07.1234567 +05:30`.
    public var description: String {
        let sign = offsetMinutes < 0 ? "-" : "+"
        let minutes = abs(offsetMinutes)
        let hh = minutes / 60 < 10 ? "0\(minutes / 60)" : "\(minutes / 60)"
        let mm = minutes % 60 < 10 ? "0\(minutes % 60)" : "\(minutes % 60)"
        return "\(local) \(sign)\(hh):\(mm)"
    }
}

extension SQLDateTime {
    /// This reading moved by whole minutes across midnight as needed (no time zone involved).
    func adding(minutes: Int) -> SQLDateTime {
        let minuteOfDay = time.hour * 60 + time.minute + minutes
        let dayShift = Int((Double(minuteOfDay) / 1440).rounded(.down))
        let newMinuteOfDay = minuteOfDay - dayShift * 1440
        return SQLDateTime(
            date: SQLDate(daysSince1900: date.daysSince1900 + dayShift),
            time: SQLTime(hour: newMinuteOfDay / 60, minute: newMinuteOfDay % 60, second: time.second, nanosecond: time.nanosecond))
    }
}
