import SluiceSQLServer

/// Conversions between event times (ms since the epoch, UTC) and `datetime2(3)` values.
public enum WarehouseTime {
    static let daysFrom1900To1970 = 25567
    static let msPerDay: Int64 = 86_400_000

    /// The `datetime2` holding `ms` since 1970-01-01 (UTC wall clock).
    public static func dateTime(ms: Int64) -> SQLDateTime {
        let days = ms >= 0 ? ms / msPerDay : (ms - msPerDay + 1) / msPerDay
        let rest = Int(ms - days * msPerDay)
        return SQLDateTime(
            date: SQLDate(daysSince1900: Int(days) + daysFrom1900To1970),
            time: SQLTime(hour: rest / 3_600_000, minute: rest / 60_000 % 60, second: rest / 1000 % 60,
                          nanosecond: rest % 1000 * 1_000_000))
    }

    /// ms since 1970-01-01 of a `datetime2` value (sub-ms digits dropped).
    public static func milliseconds(_ value: SQLDateTime) -> Int64 {
        let days = Int64(value.date.daysSince1900 - daysFrom1900To1970)
        let t = value.time
        return days * msPerDay + Int64(t.hour * 3_600_000 + t.minute * 60_000 + t.second * 1000 + t.nanosecond / 1_000_000)
    }
}
