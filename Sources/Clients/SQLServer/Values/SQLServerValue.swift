import Foundation

/// One value read from or sent to SQL Server. Exact types keep their exactness: `decimal` and `money`
/// are ``SQLDecimal``, date/time types keep 100 ns and the offset.
public enum SQLServerValue: Sendable, Hashable {
    case null
    case bit(Bool)
    case tinyint(UInt8)
    case smallint(Int16)
    case int(Int32)
    case bigint(Int64)
    /// `decimal` / `numeric`.
    case decimal(SQLDecimal)
    /// `money` / `smallmoney` (scale 4).
    case money(SQLDecimal)
    case real(Float)
    case float(Double)
    /// `char`, `varchar`, `nchar`, `nvarchar` (incl. max), `text`, `ntext`, `xml`.
    case string(String)
    /// `binary`, `varbinary` (incl. max), `image`.
    case bytes([UInt8])
    case date(SQLDate)
    case time(SQLTime)
    /// `smalldatetime`, `datetime`, `datetime2`.
    case dateTime(SQLDateTime)
    case dateTimeOffset(SQLDateTimeOffset)
    case uuid(UUID)

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The type a parameter with this value is declared with when no type is given: strings and
    /// binaries up to 4000/8000 use a fixed bound (one plan for all lengths), longer ones `max`.
    public var defaultParameterType: SQLServerDataType {
        switch self {
        case .null: return .nvarchar(.count(1))
        case .bit: return .bit
        case .tinyint: return .tinyint
        case .smallint: return .smallint
        case .int: return .int
        case .bigint: return .bigint
        case .decimal(let value): return .decimal(precision: 38, scale: value.scale)
        case .money: return .money
        case .real: return .real
        case .float: return .float
        case .string(let value): return value.utf16.count <= 4000 ? .nvarchar(.count(4000)) : .nvarchar(.max)
        case .bytes(let value): return value.count <= 8000 ? .varbinary(.count(8000)) : .varbinary(.max)
        case .date: return .date
        case .time: return .time(scale: 7)
        case .dateTime: return .datetime2(scale: 7)
        case .dateTimeOffset: return .datetimeoffset(scale: 7)
        case .uuid: return .uniqueidentifier
        }
    }
}
