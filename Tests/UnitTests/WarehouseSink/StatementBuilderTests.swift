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

    @Test func packedPositionsAreTheHexadecimalOfTheirWarehouseBytes() {
        let lsn = LSN(vlf: 0x2a, block: 0xd18, slot: 3)
        let positions = [
            SourcePosition(commitLSN: lsn, commandID: 7, changeLSN: LSN(vlf: 0xffff_ffff, block: 0xabcdef01, slot: 0xffff), eventSerialNo: 2),
            SourcePosition(commitLSN: .zero, commandID: 0, changeLSN: .zero, eventSerialNo: 0),
            SourcePosition(commitLSN: lsn, commandID: 9_999_999_999, changeLSN: lsn, eventSerialNo: 99_999),
            .snapshot(at: lsn),
            // Wider than the fixed width (and negative): written from the sort key itself.
            SourcePosition(commitLSN: lsn, commandID: 12_345_678_901, changeLSN: lsn, eventSerialNo: 123_456),
            SourcePosition(commitLSN: lsn, commandID: -1, changeLSN: lsn, eventSerialNo: -2),
        ]
        for position in positions {
            var packed = PackedRows(types: [.binary(58), .binary(58)])
            packed.beginRow()
            packed.appendPosition(position)
            packed.append(.bytes(position.warehouseBytes))
            packed.endRow()
            let hex = position.warehouseBytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            #expect(packed.text == "[[\"\(hex)\",\"\(hex)\"]]")
        }
    }

    @Test func rowsWrittenValueByValueEqualRowsOfValues() {
        let types: [SQLServerDataType] = [.int, .binary(2), .datetime2(scale: 3), .bit, .nvarchar(.count(5)), .datetime2(scale: 3)]
        var packed = PackedRows(types: types, expectedRows: 2)
        for n in 0..<2 {
            packed.beginRow()
            packed.appendInt(Int64(n))
            packed.appendHex([0x0f, 0xa0])
            packed.appendDateTime(millisecondsSinceEpoch: 1_709_251_199_999)
            packed.appendBit(n == 1)
            packed.append(.string("é\""))
            packed.appendNull()
            packed.endRow()
        }
        let rows: [[SQLServerValue]] = (0..<2).map { n in
            [.int(Int32(n)), .bytes([0x0f, 0xa0]), .dateTime(SQLDateTime(millisecondsSinceEpoch: 1_709_251_199_999)), .bit(n == 1),
             .string("é\""), .null]
        }
        #expect(packed.count == 2)
        #expect(packed.text == PackedRows.json(rows, types: types))
        #expect(PackedRows(types: types).text == "[]")
    }

    @Test func statementsShareOneRequestWithParametersNumberedAcrossThem() {
        var s = StatementBuilder()
        #expect(s.isEmpty)
        s.append("SELECT a FROM t WHERE ")
        s.appendIn("a", [1])
        s.append(";\n")
        s.append("SELECT b FROM u WHERE ")
        s.appendIn("b", [2, 3])
        s.append(";\n")
        #expect(s.sql == "SELECT a FROM t WHERE a IN (SELECT [k] FROM OPENJSON(@p1) WITH ([k] int '$'));\n"
            + "SELECT b FROM u WHERE b IN (SELECT [k] FROM OPENJSON(@p2) WITH ([k] int '$'));\n")
        #expect(s.parameters.map(\.value) == [.string("[1]"), .string("[2,3]")])
    }
}
