import Testing
import SluiceSQLServer

@Suite struct SQLServerTransactionTests {
    struct Expected: Error {}

    @Test func commitsAndRollsBack() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            try await SQLServerTestWorld.withTable("tx", columns: "id int NOT NULL PRIMARY KEY", on: connection) { table in
                let name = quoteIdentifier("dbo", table)
                try await connection.withTransaction { tx in
                    try await tx.execute("INSERT INTO \(unsafeRaw: name) (id) VALUES (\(Int32(1)))")
                    try await tx.execute("INSERT INTO \(unsafeRaw: name) (id) VALUES (\(Int32(2)))")
                }
                await #expect(throws: Expected.self) {
                    try await connection.withTransaction { tx in
                        try await tx.execute("INSERT INTO \(unsafeRaw: name) (id) VALUES (\(Int32(3)))")
                        throw Expected()
                    }
                }
                // A server error inside rolls back what came before it.
                await #expect(throws: SQLServerError.self) {
                    try await connection.withTransaction { tx in
                        try await tx.execute("INSERT INTO \(unsafeRaw: name) (id) VALUES (\(Int32(4)))")
                        try await tx.execute("INSERT INTO \(unsafeRaw: name) (id) VALUES (\(Int32(1)))")
                    }
                }
                #expect(!connection.isInTransaction)
                // Seen from another connection: only the committed rows.
                try await SQLServerTestWorld.withConnection { other in
                    let ids = try await other.execute(SQLServerQuery("SELECT id FROM \(unsafeRaw: name) ORDER BY id")).rows.map { $0[0] }
                    #expect(ids == [.int(1), .int(2)])
                }
            }
        }
    }

    @Test func transactionsDoNotNest() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            await #expect(throws: SQLServerError.self) {
                try await connection.withTransaction { tx in
                    try await tx.withTransaction { _ in }
                }
            }
            let trancount = try await connection.execute("SELECT @@TRANCOUNT AS n").rows.first?[0]
            #expect(trancount == .int(0))
        }
    }
}
