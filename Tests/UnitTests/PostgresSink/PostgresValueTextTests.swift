import SluiceCore
@testable import SluicePostgresSink
import Testing

@Suite struct PostgresValueTextTests {
    func text(_ value: JSONValue?, _ form: PostgresColumnType.ValueForm) throws -> String? {
        try PostgresValueText.make(value, form: form, column: "c")
    }

    @Test func convertsEachRepresentation() throws {
        #expect(try text(nil, .integer) == nil)
        #expect(try text(.null, .text) == nil)
        #expect(try text(.bool(true), .boolean) == "true")
        #expect(try text(.int(-42), .integer) == "-42")
        #expect(try text(.string("1234.50"), .decimalText) == "1234.50")
        #expect(try text(.string("AbC"), .text) == "AbC")
        #expect(try text(.string("3F2504E0-4F89-11D3-9A0C-0305E82C3301"), .uuid) == "3F2504E0-4F89-11D3-9A0C-0305E82C3301")
        #expect(try text(.string("AAEC/w=="), .base64Bytes) == #"\x000102ff"#)
        #expect(try text(.int(0), .epochDays) == "1970-01-01")
        #expect(try text(.int(20_000), .epochDays) == "2024-10-04")
        #expect(try text(.int(-1), .epochDays) == "1969-12-31")
        #expect(try text(.int(-719_162), .epochDays) == "0001-01-01")
        #expect(try text(.int(1_700_000_000_123), .epochTimestamp(unitsPerSecond: 1_000)) == "2023-11-14 22:13:20.123")
        #expect(try text(.int(-1), .epochTimestamp(unitsPerSecond: 1_000)) == "1969-12-31 23:59:59.999")
        #expect(try text(.int(1_700_000_000_123_456_700), .epochTimestamp(unitsPerSecond: 1_000_000_000)) == "2023-11-14 22:13:20.123456700")
        #expect(try text(.int(45_296_789), .timeOfDay(unitsPerSecond: 1_000)) == "12:34:56.789")
        #expect(try text(.string("2025-01-06T09:37:00.358+01:00"), .isoTimestamp) == "2025-01-06T09:37:00.358+01:00")
    }

    @Test func wrongShapesAreRejectedWithTheColumnName() {
        #expect(throws: PostgresValueText.Invalid.self) { try text(.string("x"), .integer) }
        #expect(throws: PostgresValueText.Invalid.self) { try text(.int(1), .text) }
        #expect(throws: PostgresValueText.Invalid.self) { try text(.string("%%%"), .base64Bytes) }
        #expect(throws: PostgresValueText.Invalid.self) { try text(.string("12; DROP"), .decimalText) }
    }
}
