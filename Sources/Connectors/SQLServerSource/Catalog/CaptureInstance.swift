import SluiceCore
import SluiceSQLServer

/// One capture instance of a source table, as `cdc.change_tables`, `cdc.index_columns` and the change
/// table's own column metadata describe it. A capture instance keeps the column set it was created with,
/// whatever DDL the source table sees later.
public struct CaptureInstance: Hashable, Sendable {
    public var name: String
    public var table: TableID { didSet { schema = Self.schema(table: table, columns: columns, keyColumns: keyColumns) } }
    /// The lowest LSN still readable (`cdc.change_tables.start_lsn`; moved by the cleanup job).
    public var startLSN: LSN
    /// `object_id` of `cdc.<name>_CT`, the key into `cdc.captured_columns` and `cdc.index_columns`.
    public var changeTableObjectID: Int
    public var columns: [CapturedColumn] { didSet { schema = Self.schema(table: table, columns: columns, keyColumns: keyColumns) } }
    /// The message-key columns: `message.key.columns` for the table, else the instance's unique index.
    public var keyColumns: [String] { didSet { schema = Self.schema(table: table, columns: columns, keyColumns: keyColumns) } }
    /// The row schema of the instance's events. Stored, not rebuilt per event: the encoders find a schema's
    /// serialized blocks by comparing it, which is one pointer comparison for the same column array.
    public private(set) var schema: TableSchema

    public init(name: String, table: TableID, startLSN: LSN, changeTableObjectID: Int, columns: [CapturedColumn],
                keyColumns: [String]) {
        self.name = name
        self.table = table
        self.startLSN = startLSN
        self.changeTableObjectID = changeTableObjectID
        self.columns = columns
        self.keyColumns = keyColumns
        self.schema = Self.schema(table: table, columns: columns, keyColumns: keyColumns)
    }

    static func schema(table: TableID, columns: [CapturedColumn], keyColumns: [String]) -> TableSchema {
        TableSchema(table: table, columns: columns.map(\.field), keyColumns: keyColumns)
    }
}

/// A captured column: its SQL Server type and the Connect schema it is published with.
public struct CapturedColumn: Hashable, Sendable {
    public var name: String
    public let typeName: String
    /// `typeName` as a value (nil for a type the client does not model).
    public let type: SQLServerDataType.Name?
    public var length: Int?
    public var precision: Int?
    public var scale: Int?
    public var field: FieldSchema

    public init(name: String, typeName: String, length: Int?, precision: Int?, scale: Int?, field: FieldSchema) {
        self.name = name
        self.typeName = typeName
        self.type = SQLServerDataType.Name(typeName)
        self.length = length
        self.precision = precision
        self.scale = scale
        self.field = field
    }
}
