import Testing
@testable import SluiceSQLServer
@testable import SluiceWarehouseSink

@Suite struct StatementBuilderTests {
    @Test func chunksKeepEveryStatementWithinTheParameterAndRowLimits() {
        let rows = Array(0..<5000)
        for perRow in [1, 3, 19, 600] {
            let chunks = StatementBuilder.chunks(rows, parametersPerRow: perRow)
            #expect(chunks.flatMap { $0 } == rows)
            #expect(chunks.allSatisfy { $0.count <= StatementBuilder.maxRows })
            // A row wider than the limit still gets a statement of its own.
            #expect(chunks.allSatisfy { $0.count * perRow <= StatementBuilder.maxParameters || $0.count == 1 })
        }
        // db-lib appends each parameter by walking the call's list: statements stay far below 2100.
        #expect(StatementBuilder.maxParameters <= 500)
        #expect(StatementBuilder.chunks([Int](), parametersPerRow: 3).isEmpty)
    }

    @Test func valuesAndInListsBecomeTypedParameters() {
        var s = StatementBuilder("MERGE t USING ")
        s.appendValues([[.int(1), .string("a")], [.int(2), .null]], columns: [("id", .int), ("name", .nvarchar(.count(20)))])
        s.append(" WHERE ")
        s.appendIn("x", [7, 8])
        #expect(s.sql == "MERGE t USING (VALUES (@p1, @p2), (@p3, @p4)) AS s ([id], [name]) WHERE x IN (@p5, @p6)")
        #expect(s.parameters.map(\.type) == [.int, .nvarchar(.count(20)), .int, .nvarchar(.count(20)), .int, .int])
        #expect(s.parameters.map(\.value) == [.int(1), .string("a"), .int(2), .null, .int(7), .int(8)])
        var empty = StatementBuilder()
        empty.appendIn("x", [])
        #expect(empty.sql == "1 = 0" && empty.parameters.isEmpty)
    }
}
