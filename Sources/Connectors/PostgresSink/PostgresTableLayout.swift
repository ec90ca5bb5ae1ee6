import SluiceCore

/// A target table as the sink writes it: its columns (from the event schemas) with their Postgres types.
public struct PostgresTableLayout: Sendable {
    public struct Column: Sendable, Hashable {
        public var name: String
        public var type: PostgresColumnType
    }

    public var schema: String
    public var table: String
    public var columns: [Column]
    public var keyColumns: [String]
    /// The event schemas this layout was checked against (a new one triggers a new check).
    public var knownSchemas: Set<TableSchema>

    public var qualifiedName: String { "\(schema).\(table)" }
    public var quotedName: String { quoteIdentifier(schema: schema, table: table) }

    public func column(_ name: String) -> Column? { columns.first { $0.name == name } }

    /// The layout wanted for `schemas` (in event order; a column's type is its latest schema's).
    public static func wanted(schema: String, table: String, from schemas: [TableSchema]) throws(PostgresColumnType.Unsupported) -> PostgresTableLayout {
        var columns: [Column] = []
        var keyColumns: [String] = []
        for tableSchema in schemas {
            for field in tableSchema.columns {
                let column = Column(name: field.field, type: try PostgresColumnType.of(field))
                if let index = columns.firstIndex(where: { $0.name == field.field }) { columns[index] = column } else { columns.append(column) }
            }
            if !tableSchema.keyColumns.isEmpty { keyColumns = tableSchema.keyColumns }
        }
        return PostgresTableLayout(schema: schema, table: table, columns: columns, keyColumns: keyColumns, knownSchemas: Set(schemas))
    }
}
