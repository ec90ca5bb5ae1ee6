import Testing
import SluiceSQLServer

@Suite struct SQLServerSmokeTests {
    @Test func connectsAndSelects() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let result = try await connection.execute("SELECT 1 AS one, N'héllo' AS greeting")
            #expect(result.rows.count == 1)
            #expect(result.rows[0][column: "one"] == .int(1))
            #expect(result.rows[0][column: "greeting"] == .string("héllo"))
            #expect(result.resultSets[0].columns[0].name == "one")
        }
    }

    @Test func parameterizedSelect() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let id: Int32 = 7
            let name = "Zoë"
            let result = try await connection.execute("SELECT \(id) AS id, \(name) AS name")
            #expect(result.rows.first?.values == [.int(7), .string("Zoë")])
            #expect(result.returnStatus == 0)
        }
    }
}
