import Foundation
import Testing
import SluiceSQLServer

@Suite struct SQLServerResultsTests {
    @Test func multipleResultSetsAndRowCounts() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            try await SQLServerTestWorld.withTable("multi", columns: "id int NOT NULL PRIMARY KEY, name nvarchar(10) NULL", on: connection) { table in
                let name = quoteIdentifier("dbo", table)
                let result = try await connection.execute(SQLServerQuery("""
                    INSERT INTO \(unsafeRaw: name) (id, name) VALUES (1, N'a'), (2, N'b'), (3, N'c');
                    SELECT id, name FROM \(unsafeRaw: name) ORDER BY id;
                    UPDATE \(unsafeRaw: name) SET name = N'z' WHERE id >= 2;
                    SELECT COUNT(*) AS n FROM \(unsafeRaw: name) WHERE name = N'z';
                    DELETE FROM \(unsafeRaw: name) WHERE id = 3;
                    """))
                #expect(result.resultSets.count == 2)
                #expect(result.resultSets[0].rows.map { $0[1] } == [.string("a"), .string("b"), .string("c")])
                #expect(result.resultSets[1].rows.first?[column: "n"] == .int(2))
                #expect(result.rowCounts == [3, 3, 2, 1, 1])
            }
        }
    }

    @Test func streamsResultSetsOneAfterTheOther() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let seen = try await connection.withResults("SELECT 1 AS a UNION ALL SELECT 2; SELECT N'x' AS b") { results in
                var seen: [[SQLServerValue]] = []
                while let set = try await results.nextResultSet() {
                    var values: [SQLServerValue] = []
                    for try await row in set { values.append(row[0]) }
                    seen.append(values)
                }
                #expect(results.isComplete)
                return seen
            }
            #expect(seen == [[.int(1), .int(2)], [.string("x")]])
        }
    }

    @Test func stoppingEarlyCancelsTheRest() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let first = try await connection.withResults(Self.millionRows) { results in
                try await results.nextResultSet()?.first { _ in true }
            }
            #expect(first?[0] == .int(0))
            let checked = try await connection.execute("SELECT 5 AS five").rows.first?[0]
            #expect(checked == .int(5))
        }
    }

    @Test func outputParametersAndReturnStatus() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let query = SQLServerQuery(sql: "SET @doubled = @value * 2; SET @label = N'ok-' + CAST(@value AS nvarchar(10))", parameters: [
                SQLServerParameter(name: "@value", value: .int(21)),
                SQLServerParameter(name: "@doubled", value: .null, type: .int, isOutput: true),
                SQLServerParameter(name: "@label", value: .null, type: .nvarchar(.count(20)), isOutput: true),
            ])
            let result = try await connection.execute(query)
            #expect(result.returnStatus == 0)
            #expect(result.outputParameter("doubled") == .int(42))
            #expect(result.outputParameter("@label") == .string("ok-21"))
        }
    }

    @Test func storedProcedureByRPC() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let procedure = SQLServerTestWorld.uniqueTable("proc")
            let name = quoteIdentifier("dbo", procedure)
            try await connection.execute(SQLServerQuery("CREATE PROCEDURE \(unsafeRaw: name) @a int, @b int OUTPUT AS BEGIN SET @b = @a + 1; SELECT @a AS a; RETURN 7 END"))
            do {
                let result = try await connection.callProcedure("dbo.\(procedure)", parameters: [
                    SQLServerParameter(name: "@a", value: .int(41)),
                    SQLServerParameter(name: "@b", value: .null, type: .int, isOutput: true),
                ])
                #expect(result.rows.first?[0] == .int(41))
                #expect(result.returnStatus == 7)
                #expect(result.outputParameter("@b") == .int(42))
            }
            try await connection.execute(SQLServerQuery("DROP PROCEDURE \(unsafeRaw: name)"))
        }
    }

    /// 0 … 999 999 from six cross-joined digit tables: standard T-SQL, no catalog views needed.
    static let millionRows: SQLServerQuery = """
        WITH d(n) AS (SELECT n FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS v(n))
        SELECT d1.n + 10 * d2.n + 100 * d3.n + 1000 * d4.n + 10000 * d5.n + 100000 * d6.n AS n,
               N'row payload that makes each row about a hundred bytes long .......' AS payload
        FROM d AS d1 CROSS JOIN d AS d2 CROSS JOIN d AS d3 CROSS JOIN d AS d4 CROSS JOIN d AS d5 CROSS JOIN d AS d6
        ORDER BY n
        """

    /// Resident set size of this process in bytes (Linux).
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kilobytes * 1024
    }

    @Test(.timeLimit(.minutes(5)))
    func streamsAMillionRowsInFlatMemory() async throws {
        try await SQLServerTestWorld.withConnection { connection in
            let (count, sum, growth) = try await connection.withResults(Self.millionRows) { results in
                let set = try #require(try await results.nextResultSet())
                var count = 0
                var sum = 0
                var baseline = 0
                var peak = 0
                for try await row in set {
                    count += 1
                    sum += row[0].int ?? 0
                    if count == 20_000 { baseline = Self.residentBytes() }
                    if count > 20_000, count % 50_000 == 0 { peak = max(peak, Self.residentBytes()) }
                }
                return (count, sum, peak - baseline)
            }
            #expect(count == 1_000_000)
            #expect(sum == 499_999_500_000)
            // Buffered, a million rows of ~100 bytes would take hundreds of MB; streamed, RSS stays flat.
            #expect(growth < 48 * 1024 * 1024, "RSS grew by \(growth / 1024 / 1024) MB while streaming")
        }
    }

    @Test("a statement with 2000 parameters: @stmt and @params far beyond 4000 characters arrive whole")
    func twoThousandParameters() async throws {
        let values = (1...2000).map { Int32($0) }
        let rows = values.map { "(@p\($0))" }.joined(separator: ", ")
        let query = SQLServerQuery(sql: "SELECT COUNT(*), MIN(v), MAX(v) FROM (VALUES \(rows)) AS t (v)",
                                   parameters: values.map { SQLServerParameter(name: "@p\($0)", value: .int($0), type: .int) })
        #expect(query.sql.utf16.count > 4000 && query.parameterDeclarations.utf16.count > 4000)
        try await SQLServerTestWorld.withConnection { connection in
            let row = try #require(try await connection.execute(query).rows.first)
            #expect(row[0].int == 2000, "\(row[0])")
            #expect(row[1].int == 1, "\(row[1])")
            #expect(row[2].int == 2000, "\(row[2])")
        }
    }
}
