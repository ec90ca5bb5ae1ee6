extension SQLDate {
    /// Days from 1900-01-01 (db-lib's day zero) to 1970-01-01.
    public static let daysFrom1900To1970 = 25_567
}

extension SQLDateTime {
    /// The wall-clock reading `milliseconds` after 1970-01-01 00:00 (negative: before): the one
    /// conversion between epoch milliseconds (event times, `ts_ms`) and `datetime`/`datetime2` values.
    public init(millisecondsSinceEpoch milliseconds: Int64) {
        let msPerDay: Int64 = 86_400_000
        let days = milliseconds >= 0 ? milliseconds / msPerDay : (milliseconds - msPerDay + 1) / msPerDay
        let rest = Int(milliseconds - days * msPerDay)
        self.init(date: SQLDate(daysSince1900: Int(days) + SQLDate.daysFrom1900To1970),
                  time: SQLTime(hour: rest / 3_600_000, minute: rest / 60_000 % 60, second: rest / 1000 % 60,
                                nanosecond: rest % 1000 * 1_000_000))
    }

    /// Milliseconds since 1970-01-01 00:00 of this wall-clock reading taken as UTC (sub-millisecond
    /// digits dropped).
    public var millisecondsSinceEpoch: Int64 {
        let days = Int64(date.daysSince1900 - SQLDate.daysFrom1900To1970)
        return days * 86_400_000 + Int64(time.hour * 3_600_000 + time.minute * 60_000 + time.second * 1000 + time.nanosecond / 1_000_000)
    }
}
