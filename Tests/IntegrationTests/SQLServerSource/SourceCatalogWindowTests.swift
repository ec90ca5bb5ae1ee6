import Foundation
import SluiceCore
import SluiceSQLServer
import Testing
@testable import SluiceSQLServerSource

@Suite("SQL Server source: the catalog's window bound after a position and its instance descriptions", .serialized)
struct SourceCatalogWindowTests {
    /// The commit LSNs of the transactions harvested so far, ascending.
    private func commitLSNs(_ conn: SQLServerConnection) async throws -> [LSN] {
        let result = try await conn.execute("SELECT start_lsn FROM cdc.lsn_time_mapping WHERE tran_id <> 0x00 ORDER BY start_lsn")
        return result.rows.compactMap { $0[0].bytes.flatMap { LSN(bytes: $0) } }
    }

    @Test("windowUpperBound(after: lsn) is windowUpperBound(from: sys.fn_cdc_increment_lsn(lsn)) in one query, nil once nothing follows")
    func boundAfterPosition() async throws {
        let world = try await SourceTestWorld.make("bound", tables: [("t", "id int NOT NULL PRIMARY KEY, v int NULL")])
        let catalog = CDCCatalog(database: world.database, mapping: .string, keyOverrides: [:])
        try await world.withConnection { conn in
            for i in 1...3 { try await conn.execute("INSERT INTO dbo.t VALUES (\(i), \(i))") }
            var lsns: [LSN] = []
            #expect(try await eventually { lsns = try await commitLSNs(conn); return lsns.count == 3 })
            for lsn in lsns {
                for maxTransactions in [0, 1, 2] {
                    let after = try await catalog.windowUpperBound(conn, after: lsn, maxTransactions: maxTransactions)
                    let next = try await catalog.increment(conn, lsn)
                    let from = try await catalog.windowUpperBound(conn, from: next, maxTransactions: maxTransactions)
                    #expect(after == from, "after \(lsn), at most \(maxTransactions) transaction(s)")
                }
            }
            #expect(try await catalog.windowUpperBound(conn, after: lsns[0], maxTransactions: 1) == lsns[1])
            #expect(try await catalog.windowUpperBound(conn, after: lsns[0], maxTransactions: 0) == lsns[2])
            #expect(try await catalog.windowUpperBound(conn, after: lsns[2], maxTransactions: 0) == nil)
            #expect(try await catalog.windowUpperBound(conn, after: lsns[2], maxTransactions: 500) == nil)
        }
    }

    @Test("a capture instance is described once, and a re-created instance of the same name (new change table) is described again")
    func instanceDescriptionsFollowTheChangeTable() async throws {
        let world = try await SourceTestWorld.make("describe", tables: [("t", "id int NOT NULL PRIMARY KEY, v int NULL")])
        let catalog = CDCCatalog(database: world.database, mapping: .string, keyOverrides: [:])
        try await world.withConnection { conn in
            let first = try await catalog.captureInstances(conn)
            #expect(first.map { $0.columns.map(\.name) } == [["id", "v"]])
            #expect(first.map(\.keyColumns) == [["id"]])
            #expect(try await catalog.captureInstances(conn) == first)
            // The same capture instance name over a changed table: a new change table with the new column set.
            try await conn.execute("EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N't', @capture_instance = N'dbo_t'")
            try await conn.execute("ALTER TABLE dbo.t ADD w nvarchar(20) NULL")
            try await conn.execute("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL")
            let second = try await catalog.captureInstances(conn)
            #expect(second.map(\.name) == ["dbo_t"])
            #expect(second.map { $0.columns.map(\.name) } == [["id", "v", "w"]])
            #expect(second.first?.changeTableObjectID != first.first?.changeTableObjectID)
        }
    }
}
