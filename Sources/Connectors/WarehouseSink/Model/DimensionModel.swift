import SluiceSQLServer

/// An SCD Type 2 dimension: its table, the source key, and which attribute columns are tracked (a
/// change makes a new version) or type 1 (overwritten on every version of the key).
public struct DimensionModel: Sendable, Hashable {
    /// The dimension's name in configuration keys and metrics: `customer`, `application`.
    public var name: String
    public var schema: String
    public var table: String
    /// The source primary key (a single `int` column), e.g. `customer_id`.
    public var keyColumn: String
    /// The surrogate key column (IDENTITY), e.g. `customer_version_key`.
    public var surrogateColumn: String
    public var tracked: [WarehouseColumn]
    public var type1: [WarehouseColumn]

    public init(name: String, schema: String, table: String, keyColumn: String, surrogateColumn: String,
                tracked: [WarehouseColumn], type1: [WarehouseColumn]) {
        self.name = name
        self.schema = schema
        self.table = table
        self.keyColumn = keyColumn
        self.surrogateColumn = surrogateColumn
        self.tracked = tracked
        self.type1 = type1
    }

    public var qualifiedTable: String { quoteIdentifier(schema, table) }
}
