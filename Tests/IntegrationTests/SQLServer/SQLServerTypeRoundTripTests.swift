import Foundation
import Testing
import SluiceSQLServer

/// Every listed type, as a column (inserted with a T-SQL literal, read back) and as an
/// `sp_executesql` parameter (sent typed, selected back), NULL included.
@Suite struct SQLServerTypeRoundTripTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var type: SQLServerDataType
        var value: SQLServerValue
        /// The same value as a T-SQL literal, for the column test.
        var literal: String
        /// What reading it back gives, when not `value` (char padding).
        var expected: SQLServerValue? = nil
        /// What the SQL Server emulator gives back, when it differs: it stores time types in Postgres,
        /// which keeps microseconds, so values are rounded to the microsecond (a documented emulator difference).
        var expectedOnEmulator: SQLServerValue? = nil
        var testDescription: String { "\(name) \(type.declaration)" }

        func expectedValue(onEmulator: Bool) -> SQLServerValue {
            (onEmulator ? expectedOnEmulator : nil) ?? expected ?? value
        }

        /// The type db-lib reports for a column of this type. FreeTDS 1.3's db-lib folds every
        /// character type into one and every binary type into one (the declared length and the
        /// n/var/max variant are not visible through it), whatever the server.
        var reportedType: SQLServerDataType {
            switch type {
            case .char, .varchar, .nchar, .nvarchar, .text, .ntext: .other("character")
            case .binary, .varbinary, .image: .other("binary")
            default: type
            }
        }
    }

    static let longText = String(repeating: "Ωmega–日本語–", count: 12_000)   // 120k characters, non-Latin
    static let longBytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    static let guid = UUID(uuidString: "6F9619FF-8B86-D011-B42D-00C04FC964FF")!

    static let cases: [Case] = [
        Case(name: "bit", type: .bit, value: .bit(true), literal: "1"),
        Case(name: "tinyint", type: .tinyint, value: .tinyint(255), literal: "255"),
        Case(name: "smallint", type: .smallint, value: .smallint(-32768), literal: "-32768"),
        Case(name: "int", type: .int, value: .int(Int32.min), literal: "-2147483648"),
        Case(name: "bigint", type: .bigint, value: .bigint(Int64.max), literal: "9223372036854775807"),
        Case(name: "decimal max", type: .decimal(precision: 38, scale: 10), value: .decimal(SQLDecimal("9999999999999999999999999999.9999999999")!), literal: "9999999999999999999999999999.9999999999"),
        Case(name: "decimal min", type: .decimal(precision: 38, scale: 10), value: .decimal(SQLDecimal("-9999999999999999999999999999.9999999999")!), literal: "-9999999999999999999999999999.9999999999"),
        Case(name: "decimal tiny", type: .decimal(precision: 38, scale: 10), value: .decimal(SQLDecimal("0.0000000001")!), literal: "0.0000000001"),
        Case(name: "decimal money-like", type: .decimal(precision: 18, scale: 2), value: .decimal(SQLDecimal("1234567890123456.78")!), literal: "1234567890123456.78"),
        Case(name: "numeric", type: .numeric(precision: 5, scale: 0), value: .decimal(SQLDecimal("-99999")!), literal: "-99999"),
        Case(name: "money", type: .money, value: .money(SQLDecimal("-922337203685477.5808")!), literal: "-922337203685477.5808"),
        Case(name: "smallmoney", type: .smallmoney, value: .money(SQLDecimal("214748.3647")!), literal: "214748.3647"),
        Case(name: "real", type: .real, value: .real(3.5), literal: "3.5"),
        Case(name: "float", type: .float, value: .float(1.7976931348623157e308), literal: "1.7976931348623157e308"),
        Case(name: "nvarchar", type: .nvarchar(.count(100)), value: .string("Zoë Ελληνικά 日本語 🎉 O'Brien"), literal: "N'Zoë Ελληνικά 日本語 🎉 O''Brien'"),
        Case(name: "nvarchar(max)", type: .nvarchar(.max), value: .string(longText), literal: "REPLICATE(CAST(N'Ωmega–日本語–' AS nvarchar(max)), 12000)"),
        Case(name: "empty nvarchar", type: .nvarchar(.count(10)), value: .string(""), literal: "N''"),
        Case(name: "varchar", type: .varchar(.count(50)), value: .string("plain ascii text"), literal: "'plain ascii text'"),
        Case(name: "varchar(max)", type: .varchar(.max), value: .string(String(repeating: "abc", count: 30_000)), literal: "REPLICATE(CAST('abc' AS varchar(max)), 30000)"),
        Case(name: "char", type: .char(5), value: .string("ab"), literal: "'ab'", expected: .string("ab   ")),
        Case(name: "nchar", type: .nchar(4), value: .string("é"), literal: "N'é'", expected: .string("é   ")),
        Case(name: "binary(10)", type: .binary(10), value: .bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 255]), literal: "0x000102030405060708FF"),
        Case(name: "varbinary", type: .varbinary(.count(20)), value: .bytes([0xDE, 0xAD, 0xBE, 0xEF]), literal: "0xDEADBEEF"),
        Case(name: "varbinary(max)", type: .varbinary(.max), value: .bytes(longBytes), literal: "NULL"),
        Case(name: "empty varbinary", type: .varbinary(.count(10)), value: .bytes([]), literal: "0x"),
        Case(name: "date min", type: .date, value: .date(SQLDate(year: 1, month: 1, day: 1)), literal: "'0001-01-01'"),
        Case(name: "date max", type: .date, value: .date(SQLDate(year: 9999, month: 12, day: 31)), literal: "'9999-12-31'"),
        Case(name: "time(7)", type: .time(scale: 7), value: .time(SQLTime(hour: 23, minute: 59, second: 59, nanosecond: 999_999_900)), literal: "'23:59:59.9999999'",
             expectedOnEmulator: .time(SQLTime(hour: 23, minute: 59, second: 59, nanosecond: 999_999_000))),
        Case(name: "smalldatetime", type: .smalldatetime, value: .dateTime(SQLDateTime(year: 2024, month: 2, day: 29, hour: 13, minute: 45)), literal: "'2024-02-29 13:45'"),
        Case(name: "datetime", type: .datetime, value: .dateTime(SQLDateTime(year: 2024, month: 2, day: 29, hour: 13, minute: 45, second: 7, nanosecond: 3_000_000)), literal: "'2024-02-29T13:45:07.003'"),
        Case(name: "datetime2(7)", type: .datetime2(scale: 7), value: .dateTime(SQLDateTime(year: 2024, month: 2, day: 29, hour: 13, minute: 45, second: 7, nanosecond: 123_456_700)), literal: "'2024-02-29 13:45:07.1234567'",
             expectedOnEmulator: .dateTime(SQLDateTime(year: 2024, month: 2, day: 29, hour: 13, minute: 45, second: 7, nanosecond: 123_457_000))),
        Case(name: "datetime2(3)", type: .datetime2(scale: 3), value: .dateTime(SQLDateTime(year: 1900, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanosecond: 999_000_000)), literal: "'1900-01-01 00:00:00.999'"),
        Case(name: "datetimeoffset +05:30", type: .datetimeoffset(scale: 7), value: .dateTimeOffset(SQLDateTimeOffset(local: SQLDateTime(year: 2024, month: 3, day: 1, hour: 0, minute: 15, second: 0, nanosecond: 100), offsetMinutes: 330)), literal: "'2024-03-01 00:15:00.0000001 +05:30'",
             expectedOnEmulator: .dateTimeOffset(SQLDateTimeOffset(local: SQLDateTime(year: 2024, month: 3, day: 1, hour: 0, minute: 15, second: 0, nanosecond: 0), offsetMinutes: 330))),
        Case(name: "datetimeoffset -08:00", type: .datetimeoffset(scale: 7), value: .dateTimeOffset(SQLDateTimeOffset(local: SQLDateTime(year: 2023, month: 12, day: 31, hour: 23, minute: 59, second: 59), offsetMinutes: -480)), literal: "'2023-12-31 23:59:59 -08:00'"),
        Case(name: "datetimeoffset +14:00", type: .datetimeoffset(scale: 0), value: .dateTimeOffset(SQLDateTimeOffset(local: SQLDateTime(year: 2024, month: 6, day: 30, hour: 8), offsetMinutes: 840)), literal: "'2024-06-30 08:00:00 +14:00'"),
        Case(name: "uniqueidentifier", type: .uniqueidentifier, value: .uuid(guid), literal: "'6F9619FF-8B86-D011-B42D-00C04FC964FF'"),
    ]

    static func summary(_ value: SQLServerValue) -> String {
        switch value {
        case .string(let text) where text.count > 100: return "string of \(text.count) characters: \(text.prefix(20))…"
        case .bytes(let bytes) where bytes.count > 100: return "\(bytes.count) bytes"
        default: return value.description
        }
    }

    @Test(arguments: cases)
    func asParameter(_ testCase: Case) async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let result = try await connection.execute("SELECT \(testCase.value, as: testCase.type) AS v, \(SQLServerValue.null, as: testCase.type) AS n")
            let row = try #require(result.rows.first)
            // A parameter declared char(n)/nchar(n) comes back padded, like the column.
            let expected = testCase.expectedValue(onEmulator: try await SQLServerTestWorld.isEmulator(connection))
            #expect(row[0] == expected, "got \(Self.summary(row[0]))")
            #expect(row[1] == .null)
        }
    }

    @Test(arguments: cases)
    func asColumn(_ testCase: Case) async throws {
        try await SQLServerTestWorld.withConnection { connection in
            try await SQLServerTestWorld.withTable("types", columns: "id int NOT NULL PRIMARY KEY, v \(testCase.type.declaration) NULL", on: connection) { table in
                let name = quoteIdentifier("dbo", table)
                if testCase.literal == "NULL" {
                    // No short literal: the value goes in as a typed parameter.
                    try await connection.execute("INSERT INTO \(unsafeRaw: name) (id, v) VALUES (1, \(testCase.value, as: testCase.type))")
                } else {
                    try await connection.execute(SQLServerQuery("INSERT INTO \(unsafeRaw: name) (id, v) VALUES (1, \(unsafeRaw: testCase.literal))"))
                }
                try await connection.execute(SQLServerQuery("INSERT INTO \(unsafeRaw: name) (id, v) VALUES (2, NULL)"))
                let result = try await connection.execute(SQLServerQuery("SELECT v FROM \(unsafeRaw: name) ORDER BY id"))
                let expected = testCase.expectedValue(onEmulator: try await SQLServerTestWorld.isEmulator(connection))
                #expect(result.rows.map { $0[0] } == [expected, .null], "got \(result.rows.map { Self.summary($0[0]) })")
                let column = result.resultSets[0].columns[0]
                #expect(column.name == "v")
                #expect(column.type == testCase.reportedType)
                #expect(column.isNullable)
            }
        }
    }

    @Test func columnMetadata() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            try await SQLServerTestWorld.withTable("meta", columns: "id int IDENTITY(1,1) NOT NULL PRIMARY KEY, amount decimal(18,2) NOT NULL, name nvarchar(200) NULL, at datetime2(3) NULL", on: connection) { table in
                let result = try await connection.execute("SELECT id, amount, name, at FROM \(identifier: "dbo", table)")
                let columns = result.resultSets[0].columns
                #expect(columns.map(\.name) == ["id", "amount", "name", "at"])
                #expect(columns[0].type == .int && !columns[0].isNullable && columns[0].isIdentity)
                #expect(columns[1].type == .decimal(precision: 18, scale: 2) && columns[1].precision == 18 && columns[1].scale == 2 && !columns[1].isNullable)
                // db-lib reports only the character family for nvarchar(200) (see Case.reportedType).
                #expect(columns[2].type == .other("character") && columns[2].isNullable)
                #expect(columns[3].type == .datetime2(scale: 3) && columns[3].scale == 3)
            }
        }
    }
}
