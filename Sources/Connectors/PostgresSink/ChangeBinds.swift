import PostgresNIO
import SluiceCore

/// The bind parameters the sink's set-based upsert and delete share: one `text[]` per column (each value
/// written straight into its array, row by row), then the changes' positions, their keys' JSON text and
/// the table's name for `sluice_deleted`. The statements unnest the arrays together (`arrays` holds their
/// `$n::text[]` placeholders, in column order).
struct ChangeBinds {
    var binds: PostgresBindings
    /// `$n::text[]` for each column, in the order of `columns`.
    var arrays: [String] = []
    /// Parameter numbers of the positions, the keys and the table name.
    var positions = 0, keys = 0, tableName = 0

    /// - Parameter value: the value of `column` (at `index` in `columns`) for `change`; nil for NULL.
    @inline(__always)
    init(_ changes: [NetEffect.Change], columns: [PostgresTableLayout.Column], table: String,
         value: (NetEffect.Change, Int, PostgresTableLayout.Column) -> JSONValue?) throws(PostgresValueText.Invalid) {
        binds = PostgresBindings(capacity: columns.count + 3)
        var builders = columns.map { _ in PostgresTextArrayBuilder(capacity: changes.count) }
        var positionsArray = PostgresTextArrayBuilder(capacity: changes.count, bytesPerElement: 58)
        var keysArray = PostgresTextArrayBuilder(capacity: changes.count)
        for change in changes {
            for (index, column) in columns.enumerated() {
                try builders[index].append(value(change, index, column), form: column.type.form, column: column.name)
            }
            positionsArray.append(change.record.event.position.sortKey)
            keysArray.append(change.keyText)
        }
        arrays.reserveCapacity(columns.count)
        for builder in builders {
            binds.append(builder)
            arrays.append("$\(binds.count)::text[]")
        }
        binds.append(positionsArray)
        positions = binds.count
        binds.append(keysArray)
        keys = binds.count
        binds.append(table)
        tableName = binds.count
    }

    /// Alias of the positions in `unnest`.
    static let positionAlias = quoteIdentifier("__sluice_p")
    /// Alias of the keys' JSON text in `unnest`.
    static let keyAlias = quoteIdentifier("__sluice_k")

    /// `SELECT unnest($1::text[]) AS …, …`: one row per change, the columns under their quoted names
    /// (`columnNames`, in the order the binds were built), then `positionAlias` and `keyAlias`. Set-returning
    /// functions in the select list advance in lockstep (the arrays are of one length) and stream their rows
    /// (a ProjectSet); `FROM unnest(a, b, …)` first copied every row into a tuplestore, a third of the
    /// statement's time before the insert in `EXPLAIN ANALYZE` (4–7 of 13 ms for 2,000 rows).
    func unnest(columnNames: [String]) -> String {
        let placeholders = arrays + ["$\(positions)::text[]", "$\(keys)::text[]"]
        let aliases = columnNames.map(quoteIdentifier) + [Self.positionAlias, Self.keyAlias]
        return "SELECT " + zip(placeholders, aliases).map { "unnest(\($0)) AS \($1)" }.joined(separator: ", ")
    }
}
