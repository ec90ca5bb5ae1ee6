/// A captured table: database, schema and table name as SQL Server reports them.
public struct TableID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var database: String
    public var schema: String
    public var table: String

    public init(database: String, schema: String, table: String) {
        self.database = database
        self.schema = schema
        self.table = table
    }

    /// `schema.table`, the form of Debezium's `table.include.list` entries.
    public var qualifiedName: String { "\(schema).\(table)" }

    public var description: String { "\(database).\(schema).\(table)" }

    public static func < (lhs: TableID, rhs: TableID) -> Bool { lhs.description < rhs.description }
}
