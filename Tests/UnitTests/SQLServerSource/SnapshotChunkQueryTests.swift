import Testing
import SluiceCore
import SluiceSQLServer
@testable import SluiceSQLServerSource

@Suite struct SnapshotChunkQueryTests {
    static func column(_ name: String, _ type: String, length: Int? = nil, precision: Int? = nil, scale: Int? = nil) -> CapturedColumn {
        CapturedColumn(name: name, typeName: type, length: length, precision: precision, scale: scale,
                       field: FieldSchema(field: name, type: .string, optional: true))
    }

    static let table = TableID(database: "CreditStaging", schema: "dbo", table: "accounts")

    static func instance(keys: [String], columns: [CapturedColumn]) -> CaptureInstance {
        CaptureInstance(name: "dbo_accounts", table: table, startLSN: .zero, changeTableObjectID: 1, columns: columns, keyColumns: keys)
    }

    static let composite = instance(keys: ["region", "id"], columns: [
        column("region", "nvarchar", length: 20), column("id", "int"), column("balance", "decimal", precision: 18, scale: 2),
    ])

    @Test func firstChunkReadsFromTheStartInKeyOrder() throws {
        let query = try SnapshotChunkQuery(instance: Self.composite, chunkSize: 500, afterKey: nil).query
        #expect(query.sql == "SELECT TOP (500) [region], [id], [balance] FROM [dbo].[accounts] ORDER BY [region], [id]")
        #expect(query.parameters.isEmpty)
    }

    @Test func laterChunksStartStrictlyAfterTheKeyInTheColumnsOwnTypes() throws {
        let query = try SnapshotChunkQuery(instance: Self.composite, chunkSize: 500,
                                           afterKey: ["region": .string("north"), "id": .int(42)]).query
        #expect(query.sql == "SELECT TOP (500) [region], [id], [balance] FROM [dbo].[accounts] WHERE "
            + "[region] > CAST(@p1 AS nvarchar(20)) OR ([region] = CAST(@p2 AS nvarchar(20)) AND [id] > CAST(@p3 AS int)) "
            + "ORDER BY [region], [id]")
        #expect(query.parameters.map(\.value) == [.string("north"), .string("north"), .string("42")])
    }

    @Test func aMissingKeyValueIsAnError() {
        #expect(throws: SnapshotChunkQuery.KeyError.self) {
            _ = try SnapshotChunkQuery(instance: Self.composite, chunkSize: 10, afterKey: ["region": .string("north")]).query
        }
    }

    @Test func onlyKeysWhoseJSONCastsBackCanResume() {
        #expect(SnapshotChunkQuery.canResume(Self.composite, decimalMode: .string))
        let byDecimal = Self.instance(keys: ["balance"], columns: Self.composite.columns)
        #expect(SnapshotChunkQuery.canResume(byDecimal, decimalMode: .string))
        #expect(!SnapshotChunkQuery.canResume(byDecimal, decimalMode: .precise), "precise decimals are base64")
        let byDate = Self.instance(keys: ["day"], columns: [Self.column("day", "date")])
        #expect(!SnapshotChunkQuery.canResume(byDate, decimalMode: .string), "dates are day numbers in events")
    }
}
