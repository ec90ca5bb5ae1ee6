extension SQLServerDataType {
    /// A SQL Server type by name alone (`DATA_TYPE` of `INFORMATION_SCHEMA.COLUMNS`, the
    /// `__debezium.source.column.type` schema parameter): the one list of type names. Each concern maps
    /// every name in one exhaustive `switch`, so a new type cannot be forgotten in one of them:
    ///
    /// - change events (Connect schema and JSON): `SQLServerTypeMapping` (Core), values `ValueMapper` (source);
    /// - the Postgres replica column: `PostgresColumnType` (PostgresSink);
    /// - README "Types" lists them all, checked by `ColumnTypesDocumentationTests`.
    public enum Name: String, Sendable, Hashable, CaseIterable {
        case bit, tinyint, smallint, int, bigint
        case decimal, numeric, money, smallmoney
        case real, float
        case char, varchar, nchar, nvarchar, text, ntext
        case binary, varbinary, image
        case uniqueidentifier
        case date, time, smalldatetime, datetime, datetime2, datetimeoffset
        case xml

        /// The name as SQL Server or FreeTDS prints it, any case (`NVARCHAR`, `datetime2`); also
        /// `integer` and `dec`, T-SQL's synonyms. nil for a type this client does not model.
        public init?(_ typeName: some StringProtocol) {
            let lower = typeName.lowercased()
            switch lower {
            case "integer": self = .int
            case "dec": self = .decimal
            default: self.init(rawValue: lower)
            }
        }

        /// Whether the catalog's scale of this type counts fractional-second digits
        /// (`DATETIME_PRECISION`) rather than decimal digits (`NUMERIC_SCALE`).
        public var hasFractionalSeconds: Bool {
            switch self {
            case .time, .smalldatetime, .datetime, .datetime2, .datetimeoffset: true
            default: false
            }
        }

        /// Whether a declaration of this type takes a length: `nvarchar(200)`, `varbinary(max)`.
        public var hasLength: Bool {
            switch self {
            case .char, .varchar, .nchar, .nvarchar, .binary, .varbinary: true
            default: false
            }
        }
    }

    /// The type's name; nil for ``other(_:)``.
    public var name: Name? {
        switch self {
        case .bit: .bit
        case .tinyint: .tinyint
        case .smallint: .smallint
        case .int: .int
        case .bigint: .bigint
        case .decimal: .decimal
        case .numeric: .numeric
        case .money: .money
        case .smallmoney: .smallmoney
        case .real: .real
        case .float: .float
        case .char: .char
        case .varchar: .varchar
        case .nchar: .nchar
        case .nvarchar: .nvarchar
        case .text: .text
        case .ntext: .ntext
        case .binary: .binary
        case .varbinary: .varbinary
        case .image: .image
        case .date: .date
        case .time: .time
        case .smalldatetime: .smalldatetime
        case .datetime: .datetime
        case .datetime2: .datetime2
        case .datetimeoffset: .datetimeoffset
        case .uniqueidentifier: .uniqueidentifier
        case .xml: .xml
        case .other: nil
        }
    }
}
