import SluiceSQLServer

/// Builds a T-SQL statement whose values all travel as typed `sp_executesql` parameters (`@p1`, …),
/// including table value constructors `(VALUES (@p1, @p2), (@p3, @p4)) AS s (a, b)` for set-based
/// statements over a batch.
struct StatementBuilder {
    /// Parameters per statement. SQL Server allows 2100 per request, but db-lib's `dbrpcparam` walks
    /// its list of the call's parameters to append each one, so sending n parameters costs n²/2 steps:
    /// at 2000 that walk was half of the sink's CPU (perf, benchmarks/warehouse). 500 keeps it a few
    /// percent while a batch still needs only a few statements per table. (250 was measured too: the
    /// walk fell from 15 % to 5 % of the process, but the extra statements cost more CPU per message
    /// than that saved, 137-154 against 123-130 µs back to back.)
    static let maxParameters = 500
    /// And 1000 rows per table value constructor.
    static let maxRows = 1000

    private(set) var sql = ""
    private(set) var parameters: [SQLServerParameter] = []

    init(_ sql: String = "") {
        self.sql = sql
    }

    mutating func append(_ text: String) {
        sql += text
    }

    /// Adds a parameter and returns its name.
    mutating func bind(_ value: SQLServerValue, as type: SQLServerDataType) -> String {
        let name = "@p\(parameters.count + 1)"
        parameters.append(SQLServerParameter(name: name, value: value, type: type))
        return name
    }

    /// `(VALUES (…), (…)) AS s ([c1], [c2])`, one typed parameter per value.
    mutating func appendValues(_ rows: some Collection<[SQLServerValue]>, columns: [(name: String, type: SQLServerDataType)],
                               alias: String = "s") {
        sql += "(VALUES "
        var firstRow = true
        for row in rows {
            sql += firstRow ? "(" : ", ("
            firstRow = false
            for (index, value) in row.enumerated() {
                if index > 0 { sql += ", " }
                let parameter = bind(value, as: columns[index].type)
                sql += parameter
            }
            sql += ")"
        }
        sql += ") AS \(alias) (" + columns.map { quoteIdentifier($0.name) }.joined(separator: ", ") + ")"
    }

    /// `column IN (@p1, @p2, …)` over `int` keys, or a false condition for no values.
    mutating func appendIn(_ column: String, _ values: some Collection<Int64>) {
        guard !values.isEmpty else {
            sql += "1 = 0"
            return
        }
        var names: [String] = []
        for value in values { names.append(bind(.int(Int32(truncatingIfNeeded: value)), as: .int)) }
        sql += column + " IN (" + names.joined(separator: ", ") + ")"
    }

    var query: SQLServerQuery { SQLServerQuery(sql: sql, parameters: parameters) }

    /// Splits `rows` so that each chunk's parameters stay within the limits.
    static func chunks<T>(_ rows: [T], parametersPerRow: Int, reserved: Int = 0) -> [ArraySlice<T>] {
        let size = max(1, min(maxRows, (maxParameters - reserved) / max(1, parametersPerRow)))
        return stride(from: 0, to: rows.count, by: size).map { rows[$0..<min($0 + size, rows.count)] }
    }
}
