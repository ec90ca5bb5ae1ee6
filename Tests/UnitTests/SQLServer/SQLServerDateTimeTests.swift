import Foundation
import Testing
@testable import SluiceSQLServer

@Suite struct SQLServerDateTimeTests {
    @Test func daysSince1900() {
        #expect(SQLDate(year: 1900, month: 1, day: 1).daysSince1900 == 0)
        #expect(SQLDate(year: 1899, month: 12, day: 31).daysSince1900 == -1)
        #expect(SQLDate(year: 1970, month: 1, day: 1).daysSince1900 == 25567)
        #expect(SQLDate(year: 1, month: 1, day: 1).daysSince1900 == -693_595)
        #expect(SQLDate(year: 9999, month: 12, day: 31).daysSince1900 == 2_958_463)
        for days in [-693_595, -1, 0, 59, 60, 25567, 45_000, 2_958_463] {
            #expect(SQLDate(daysSince1900: days).daysSince1900 == days)
        }
        #expect(SQLDate(daysSince1900: SQLDate(year: 2024, month: 2, day: 29).daysSince1900) == SQLDate(year: 2024, month: 2, day: 29))
    }

    @Test func timeKeepsSevenDigits() {
        let time = SQLTime(ticksSinceMidnight: 863_999_999_999)
        #expect(time == SQLTime(hour: 23, minute: 59, second: 59, nanosecond: 999_999_900))
        #expect(time.description == "23:59:59.9999999")
        #expect(time.ticksSinceMidnight == 863_999_999_999)
        #expect(time.formatted(fractionalDigits: 3) == "23:59:59.999")
    }

    @Test func datetimeTicksRoundLikeSQLServer() {
        // 1/300 s ticks: SQL Server shows .000, .003, .007, .010.
        let expected = [0: 0, 1: 3, 2: 7, 3: 10, 299: 997]
        for (ticks, milliseconds) in expected {
            let value = DBValueDecoder.dateTime(days: 0, ticks300: ticks)
            #expect(value.time.nanosecond == milliseconds * 1_000_000, "ticks \(ticks)")
        }
        let lastOfDay = DBValueDecoder.dateTime(days: 45_000, ticks300: 25_919_999)
        #expect(lastOfDay.description == "2023-03-17 23:59:59.9970000")
    }

    @Test func dateTimeAllDecodesEveryKind() {
        let date = SQLDate(year: 2024, month: 2, day: 29)
        let ticks = SQLTime(hour: 1, minute: 2, second: 3, nanosecond: 456_789_100).ticksSinceMidnight
        let days = date.daysSince1900
        #expect(DBValueDecoder.dateTimeAll(type: 40, date: days, time: 0, offset: 0) == .date(date))
        #expect(DBValueDecoder.dateTimeAll(type: 41, date: 0, time: ticks, offset: 0) == .time(SQLTime(hour: 1, minute: 2, second: 3, nanosecond: 456_789_100)))
        #expect(DBValueDecoder.dateTimeAll(type: 42, date: days, time: ticks, offset: 0).description == "2024-02-29 01:02:03.4567891")
        // datetimeoffset travels as UTC + offset: 01:02 UTC at +05:30 is 06:32 local.
        let offset = DBValueDecoder.dateTimeAll(type: 43, date: days, time: ticks, offset: 330)
        #expect(offset.description == "2024-02-29 06:32:03.4567891 +05:30")
        // -08:00 crosses midnight backwards.
        #expect(DBValueDecoder.dateTimeAll(type: 43, date: days, time: ticks, offset: -480).description == "2024-02-28 17:02:03.4567891 -08:00")
    }

    @Test func dateTimeOffsetConvertsBothWays() {
        let local = SQLDateTime(year: 2024, month: 12, day: 31, hour: 23, minute: 30)
        let value = SQLDateTimeOffset(local: local, offsetMinutes: -90)
        #expect(value.utc == SQLDateTime(year: 2025, month: 1, day: 1, hour: 1, minute: 0))
        #expect(SQLDateTimeOffset(utc: value.utc, offsetMinutes: -90) == value)
        #expect(value.dateValue == Date(timeIntervalSince1970: 1_735_693_200))
    }

    @Test func foundationDatesConvert() {
        let date = Date(timeIntervalSince1970: 1_700_000_000.25)
        let value = SQLDateTime(date)
        #expect(value.description == "2023-11-14 22:13:20.2500000")
        #expect(abs(value.dateValue.timeIntervalSince(date)) < 1e-6)
    }

    @Test func guidByteOrderMatchesSQLServer() throws {
        let uuid = try #require(UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF"))
        let bytes = DBEncodedParameter.guidBytes(uuid)
        #expect(bytes == [0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF])
        #expect(DBValueDecoder.uuid(guidBytes: bytes) == uuid)
    }
}
