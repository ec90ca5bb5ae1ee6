/// A result-set column's metadata.
public struct SQLServerColumn: Sendable, Hashable {
    /// The column name (empty for an unnamed expression).
    public var name: String
    /// The declared type, e.g. `nvarchar(200)`, `decimal(18,2)`, `datetime2(3)`.
    public var type: SQLServerDataType
    /// The maximum length in bytes as the server declares it (-1 for `max` types).
    public var maxLength: Int
    /// Digits of `decimal`/`numeric` (0 for other types).
    public var precision: Int
    /// Digits after the point of `decimal`/`numeric`, fractional-second digits of time types.
    public var scale: Int
    public var isNullable: Bool
    public var isIdentity: Bool

    public init(name: String, type: SQLServerDataType, maxLength: Int, precision: Int, scale: Int, isNullable: Bool, isIdentity: Bool = false) {
        self.name = name
        self.type = type
        self.maxLength = maxLength
        self.precision = precision
        self.scale = scale
        self.isNullable = isNullable
        self.isIdentity = isIdentity
    }
}
