import SluiceCore
@testable import SluicePostgresSink
import Testing

@Suite struct PostgresColumnTypeTests {
    func pg(_ type: String, length: Int? = nil, precision: Int? = nil, scale: Int? = nil) throws -> String {
        try PostgresColumnType.of(SQLServerTypeMapping.fieldSchema(
            column: "c", typeName: type, length: length, precision: precision, scale: scale, optional: true, decimalMode: .string)).sql
    }

    @Test func faithfulTypesFromThePropagatedSourceType() throws {
        #expect(try pg("bit") == "boolean")
        #expect(try pg("tinyint") == "smallint")
        #expect(try pg("int") == "integer")
        #expect(try pg("bigint") == "bigint")
        #expect(try pg("real") == "real")
        #expect(try pg("float") == "double precision")
        #expect(try pg("decimal", precision: 12, scale: 2) == "numeric(12,2)")
        #expect(try pg("numeric", precision: 38, scale: 10) == "numeric(38,10)")
        #expect(try pg("money") == "numeric(19,4)")
        #expect(try pg("smallmoney") == "numeric(10,4)")
        #expect(try pg("nvarchar", length: 50) == "character varying(50)")
        #expect(try pg("varchar", length: -1) == "text")
        #expect(try pg("nchar", length: 3) == "character(3)")
        #expect(try pg("ntext") == "text")
        #expect(try pg("binary", length: 10) == "bytea")
        #expect(try pg("varbinary", length: -1) == "bytea")
        #expect(try pg("uniqueidentifier") == "uuid")
        #expect(try pg("date") == "date")
        #expect(try pg("time", scale: 3) == "time(3) without time zone")
        #expect(try pg("time", scale: 7) == "time(6) without time zone")
        #expect(try pg("datetime2", scale: 3) == "timestamp(3) without time zone")
        #expect(try pg("datetime2", scale: 7) == "timestamp(6) without time zone")
        #expect(try pg("datetime") == "timestamp(3) without time zone")
        #expect(try pg("smalldatetime") == "timestamp(0) without time zone")
        #expect(try pg("datetimeoffset", scale: 7) == "timestamp(6) with time zone")
    }

    @Test func fallsBackOnConnectTypesWithoutASourceType() throws {
        #expect(try PostgresColumnType.of(FieldSchema(field: "d", type: .int32, optional: true, name: "io.debezium.time.Date")).sql == "date")
        #expect(try PostgresColumnType.of(FieldSchema(field: "s", type: .string, optional: true)).sql == "text")
        #expect(try PostgresColumnType.of(FieldSchema(field: "n", type: .int64, optional: true, name: "io.debezium.time.NanoTimestamp")).sql == "timestamp(6) without time zone")
        #expect(throws: PostgresColumnType.Unsupported.self) {
            try PostgresColumnType.of(FieldSchema(field: "p", type: .bytes, optional: true, name: "org.apache.kafka.connect.data.Decimal"))
        }
    }

    @Test func compatibilityWidensButNeverCastsSilently() {
        let varchar100 = PostgresColumnType(sql: "character varying(100)", form: .text)
        #expect(varchar100.compatibility(withExisting: "character varying(50)") == (true, "character varying(100)"))
        #expect(varchar100.compatibility(withExisting: "character varying(200)") == (true, nil))
        #expect(PostgresColumnType(sql: "numeric(14,2)", form: .decimalText).compatibility(withExisting: "numeric(12,2)") == (true, "numeric(14,2)"))
        #expect(PostgresColumnType(sql: "numeric(12,3)", form: .decimalText).compatibility(withExisting: "numeric(12,2)").compatible == false)
        #expect(PostgresColumnType(sql: "integer", form: .integer).compatibility(withExisting: "bigint") == (true, nil))
        #expect(PostgresColumnType(sql: "bigint", form: .integer).compatibility(withExisting: "integer") == (true, "bigint"))
        #expect(PostgresColumnType(sql: "text", form: .text).compatibility(withExisting: "integer").compatible == false)
        #expect(PostgresColumnType(sql: "uuid", form: .uuid).compatibility(withExisting: "uuid") == (true, nil))
    }

    @Test func identifiersAreQuotedInOnePlace() {
        #expect(quoteIdentifier("customers") == #""customers""#)
        #expect(quoteIdentifier(#"we"ird"#) == #""we""ird""#)
        #expect(quoteIdentifier(schema: "dbo", table: "t") == #""dbo"."t""#)
    }
}
