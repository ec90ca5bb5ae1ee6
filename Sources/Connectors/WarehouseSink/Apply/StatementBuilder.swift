import SluiceSQLServer

/// Builds a T-SQL statement whose values all travel as typed `sp_executesql` parameters (`@p1`, …).
/// The row sets of set-based statements over a batch travel as ONE `nvarchar(max)` parameter each,
/// a JSON array of rows (`PackedRows`) unpacked by the server with `OPENJSON(@p) WITH (…)` (SQL Server
/// 2016+, compatibility level 130): db-lib copies, lists and frees every RPC parameter (its
/// `dbrpcparam` walks the call's list to append each one), which at one parameter per value was most
/// of the sink's CPU (benchmarks/warehouse/README.md).
struct StatementBuilder {
    private(set) var sql = ""
    private(set) var parameters: [SQLServerParameter] = []

    init(_ sql: String = "") {
        self.sql = sql
    }

    /// No statement text yet.
    var isEmpty: Bool { sql.isEmpty }

    mutating func append(_ text: String) {
        sql += text
    }

    /// Adds a parameter and returns its name.
    mutating func bind(_ value: SQLServerValue, as type: SQLServerDataType) -> String {
        let name = "@p\(parameters.count + 1)"
        parameters.append(SQLServerParameter(name: name, value: value, type: type))
        return name
    }

    /// `(SELECT j.[c1], CONVERT(binary(32), j.[c2], 2) AS [c2], … FROM OPENJSON(@pN) WITH ([c1] int '$[0]',
    /// [c2] varchar(64) '$[1]', …) AS j) AS s`: the rows as one JSON parameter, each column converted
    /// by OPENJSON to its declared type (binaries from hexadecimal by CONVERT's style 2; strings as
    /// nvarchar(max), so that the target column, not OPENJSON, bounds their length).
    mutating func appendRows(_ rows: some Collection<[SQLServerValue]>, columns: [(name: String, type: SQLServerDataType)],
                             alias: String = "s") {
        appendRows(PackedRows(rows: rows, types: columns.map(\.type)), columns: columns, alias: alias)
    }

    /// The same over rows already written (`packed.types` are the columns' types).
    mutating func appendRows(_ packed: PackedRows, columns: [(name: String, type: SQLServerDataType)], alias: String = "s") {
        assert(packed.types == columns.map(\.type))
        let parameter = bind(.string(packed.text), as: .nvarchar(.max))
        var projection = ""
        var schema = ""
        for (index, column) in columns.enumerated() {
            if index > 0 {
                projection += ", "
                schema += ", "
            }
            let name = quoteIdentifier(column.name)
            schema += name + " "
            switch column.type {
            case .binary(let n), .varbinary(.count(let n)):
                projection += "CONVERT(\(column.type.declaration), j.\(name), 2) AS \(name)"
                schema += "varchar(\(2 * n))"
            case .varbinary(.max):
                projection += "CONVERT(varbinary(max), j.\(name), 2) AS \(name)"
                schema += "varchar(max)"
            case .nvarchar, .nchar, .varchar, .char:
                // Unbounded here: OPENJSON would cut a longer string to the declared length silently, the
                // target column refuses it (as a typed parameter's value reached it whole).
                projection += "j." + name
                schema += "nvarchar(max)"
            default:
                projection += "j." + name
                schema += column.type.declaration
            }
            schema += " '$[\(index)]'"
        }
        sql += "(SELECT " + projection + " FROM OPENJSON(" + parameter + ") WITH (" + schema + ") AS j) AS " + alias
    }

    /// `column IN (SELECT [k] FROM OPENJSON(@pN) WITH ([k] int '$'))` over `int` keys as one JSON
    /// parameter, or a false condition for no values.
    mutating func appendIn(_ column: String, _ values: some Collection<Int64>) {
        guard !values.isEmpty else {
            sql += "1 = 0"
            return
        }
        let parameter = bind(.string(PackedRows.json(values)), as: .nvarchar(.max))
        sql += column + " IN (SELECT [k] FROM OPENJSON(" + parameter + ") WITH ([k] int '$'))"
    }

    var query: SQLServerQuery { SQLServerQuery(sql: sql, parameters: parameters) }
}
