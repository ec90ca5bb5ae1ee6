import Testing
import SluiceCore
import SluiceSQLServer
@testable import SluiceSQLServerSource

/// The per-type decisions `ValueMapper` takes from a column's SQL Server type name (decided once per
/// column, in any case), and the row schema a capture instance keeps in step with its columns.
@Suite struct ValueMapperTests {
    let mapper = ValueMapper(decimalMode: .string, binaryHex: false)

    func column(_ name: String, _ typeName: String, scale: Int?) -> CapturedColumn {
        CapturedColumn(name: name, typeName: typeName, length: nil, precision: nil, scale: scale,
                       field: FieldSchema(field: name, type: .int64, optional: true))
    }

    @Test func moneyHasScaleFourWhateverTheCaseOfItsTypeName() throws {
        let value = SQLServerValue.money(SQLDecimal(significand: 12_345, scale: 2)!)
        for typeName in ["money", "MONEY", "SmallMoney"] {
            #expect(try mapper.json(value, column: column("amount", typeName, scale: 2)) == .string("123.4500"))
        }
        #expect(try mapper.json(.decimal(SQLDecimal(significand: 12_345, scale: 2)!), column: column("amount", "decimal", scale: 3))
                == .string("123.450"))
    }

    @Test func datetime2UsesItsScaleAndDatetimeMilliseconds() throws {
        let value = SQLServerValue.dateTime(SQLDateTime(year: 1970, month: 1, day: 2, nanosecond: 1_234_500))
        // datetime2(6): microseconds; datetime: milliseconds whatever its scale says.
        #expect(try mapper.json(value, column: column("at", "datetime2", scale: 6)) == .int(86_400_001_234))
        #expect(try mapper.json(value, column: column("at", "DateTime2", scale: 6)) == .int(86_400_001_234))
        #expect(try mapper.json(value, column: column("at", "datetime", scale: 6)) == .int(86_400_001))
    }

    @Test func theTypeIsDecidedOnceFromTheNameInAnyCase() throws {
        #expect(column("amount", "decimal", scale: 2).type == .decimal)
        #expect(column("amount", "Money", scale: 2).type == .money)
        #expect(column("at", "DATETIME2", scale: 6).type == .datetime2)
    }

    @Test func aCaptureInstanceKeepsItsSchemaInStepWithItsColumns() {
        let table = TableID(database: "CreditStaging", schema: "dbo", table: "customers")
        var instance = CaptureInstance(name: "dbo_customers", table: table, startLSN: LSN(vlf: 1, block: 1, slot: 1),
                                       changeTableObjectID: 7, columns: [column("id", "int", scale: nil)], keyColumns: ["id"])
        #expect(instance.schema == TableSchema(table: table, columns: [FieldSchema(field: "id", type: .int64, optional: true)],
                                               keyColumns: ["id"]))
        instance.columns.append(column("name", "nvarchar", scale: nil))
        instance.keyColumns = ["id", "name"]
        #expect(instance.schema.columns.map(\.field) == ["id", "name"])
        #expect(instance.schema.keyColumns == ["id", "name"])
        let renamed = TableID(database: "CreditStaging", schema: "dbo", table: "clients")
        instance.table = renamed
        #expect(instance.schema.table == renamed)
    }
}
