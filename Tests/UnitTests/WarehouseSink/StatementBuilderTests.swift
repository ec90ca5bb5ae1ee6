import Testing
import SluiceCore
@testable import SluiceSQLServer
@testable import SluiceWarehouseSink

@Suite struct StatementBuilderTests {
    @Test func rowSetsTravelAsOneJSONParameterUnpackedByOpenJSON() {
        var s = StatementBuilder("MERGE t USING ")
        s.appendRows([[.int(1), .string("a"), .bytes([0x00, 0xAB])], [.int(2), .null, .null]],
                     columns: [("id", .int), ("name", .nvarchar(.count(20))), ("ref", .binary(2))])
        s.append(" WHERE ")
        s.appendIn("x", [7, 8])
        #expect(s.sql == "MERGE t USING (SELECT j.[id], j.[name], CONVERT(binary(2), j.[ref], 2) AS [ref] FROM OPENJSON(@p1) "
            + "WITH ([id] int '$[0]', [name] nvarchar(max) '$[1]', [ref] varchar(4) '$[2]') AS j) AS s "
            + "WHERE x IN (SELECT [k] FROM OPENJSON(@p2) WITH ([k] int '$'))")
        #expect(s.parameters.map(\.type) == [.nvarchar(.max), .nvarchar(.max)])
        #expect(s.parameters.map(\.value) == [.string(#"[[1,"a","00ab"],[2,null,null]]"#), .string("[7,8]")])
        var empty = StatementBuilder()
        empty.appendIn("x", [])
        #expect(empty.sql == "1 = 0" && empty.parameters.isEmpty)
    }

    @Test func packedValuesKeepTheirExactForm() throws {
        let decimal = try #require(SQLDecimal("-12345678901234567890.1230"))
        let rows: [[SQLServerValue]] = [[
            .int(-2_147_483_648), .bigint(9_007_199_254_740_993), .decimal(decimal), .decimal(try #require(SQLDecimal("0.05"))),
            .date(SQLDate(year: 24, month: 2, day: 9)),
            .dateTime(SQLDateTime(millisecondsSinceEpoch: 1_709_251_199_999)),
            .dateTime(SQLDateTime(year: 2024, month: 1, day: 2, hour: 3, minute: 4, second: 5, nanosecond: 120_000_000)),
            .bit(true), .bit(false), .null,
        ]]
        let types: [SQLServerDataType] = [.int, .bigint, .decimal(precision: 38, scale: 4), .decimal(precision: 5, scale: 2),
                                          .date, .datetime2(scale: 3), .datetime2(scale: 7), .bit, .bit, .nvarchar(.count(10))]
        #expect(PackedRows.json(rows, types: types) == #"[[-2147483648,9007199254740993,"-12345678901234567890.1230","0.05","#
            + #""0024-02-09","2024-02-29T23:59:59.999","2024-01-02T03:04:05.1200000",1,0,null]]"#)
    }

    @Test func packedStringsAreEscapedAndRoundTrip() throws {
        let text = "quote \" backslash \\ slash / newline \n tab \t nul-ish \u{01} \u{1F} é 😀 'apostrophe'"
        let json = PackedRows.json([[.string(text)]], types: [.nvarchar(.max)])
        #expect(json.contains(#"\""#) && json.contains(#"\\"#) && json.contains(#"\n"#) && json.contains(#"\u0001"#)
            && json.contains(#"\u001f"#) && !json.contains("\u{01}"))
        let parsed = try JSONValue.parse(json)
        #expect(parsed.arrayValue?.first?.arrayValue?.first?.stringValue == text)
    }
}
