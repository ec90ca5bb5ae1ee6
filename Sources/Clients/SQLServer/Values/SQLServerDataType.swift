/// A SQL Server data type, as declared in T-SQL: a column's type, or a parameter's type in the
/// `@params` declaration of `sp_executesql`.
public enum SQLServerDataType: Sendable, Hashable, CustomStringConvertible {
    /// The length of a character or binary type: `n` (characters for n-types, bytes otherwise) or `max`.
    public enum Length: Sendable, Hashable, CustomStringConvertible {
        case count(Int)
        case max

        public var description: String {
            switch self {
            case .count(let n): return String(n)
            case .max: return "max"
            }
        }
    }

    case bit, tinyint, smallint, int, bigint
    case decimal(precision: Int, scale: Int)
    case numeric(precision: Int, scale: Int)
    case money, smallmoney
    case real, float
    case char(Int), varchar(Length), nchar(Int), nvarchar(Length)
    case text, ntext
    case binary(Int), varbinary(Length), image
    case date
    case time(scale: Int)
    case smalldatetime, datetime
    case datetime2(scale: Int)
    case datetimeoffset(scale: Int)
    case uniqueidentifier
    case xml
    /// A type this client does not model (sql_variant, geography, …), by its declaration.
    case other(String)

    /// The T-SQL declaration: `nvarchar(max)`, `decimal(38,10)`, `datetime2(7)`.
    public var declaration: String {
        switch self {
        case .bit: return "bit"
        case .tinyint: return "tinyint"
        case .smallint: return "smallint"
        case .int: return "int"
        case .bigint: return "bigint"
        case .decimal(let p, let s): return "decimal(\(p),\(s))"
        case .numeric(let p, let s): return "numeric(\(p),\(s))"
        case .money: return "money"
        case .smallmoney: return "smallmoney"
        case .real: return "real"
        case .float: return "float"
        case .char(let n): return "char(\(n))"
        case .varchar(let n): return "varchar(\(n))"
        case .nchar(let n): return "nchar(\(n))"
        case .nvarchar(let n): return "nvarchar(\(n))"
        case .text: return "text"
        case .ntext: return "ntext"
        case .binary(let n): return "binary(\(n))"
        case .varbinary(let n): return "varbinary(\(n))"
        case .image: return "image"
        case .date: return "date"
        case .time(let s): return "time(\(s))"
        case .smalldatetime: return "smalldatetime"
        case .datetime: return "datetime"
        case .datetime2(let s): return "datetime2(\(s))"
        case .datetimeoffset(let s): return "datetimeoffset(\(s))"
        case .uniqueidentifier: return "uniqueidentifier"
        case .xml: return "xml"
        case .other(let declaration): return declaration
        }
    }

    public var description: String { declaration }

    /// Parses a declaration as FreeTDS or the catalog print it (`NVARCHAR(200)`, `decimal(18, 2)`,
    /// `varbinary(max)`); unknown types become ``other(_:)``.
    public init(declaration: String) {
        let lower = declaration.lowercased().filter { !$0.isWhitespace }
        let name: Substring
        var arguments: [Substring] = []
        if let open = lower.firstIndex(of: "("), lower.hasSuffix(")") {
            name = lower[..<open]
            arguments = lower[lower.index(after: open)..<lower.index(before: lower.endIndex)].split(separator: ",")
        } else {
            name = lower[...]
        }
        func int(_ index: Int, default value: Int) -> Int {
            index < arguments.count ? Int(arguments[index]) ?? value : value
        }
        func length(default value: Int) -> Length {
            guard let first = arguments.first else { return .count(value) }
            if first == "max" || first == "-1" { return .max }
            return .count(Int(first) ?? value)
        }
        guard let known = Name(name) else {
            self = .other(declaration)
            return
        }
        switch known {
        case .bit: self = .bit
        case .tinyint: self = .tinyint
        case .smallint: self = .smallint
        case .int: self = .int
        case .bigint: self = .bigint
        case .decimal: self = .decimal(precision: int(0, default: 18), scale: int(1, default: 0))
        case .numeric: self = .numeric(precision: int(0, default: 18), scale: int(1, default: 0))
        case .money: self = .money
        case .smallmoney: self = .smallmoney
        case .real: self = .real
        case .float: self = int(0, default: 53) <= 24 ? .real : .float
        case .char: self = .char(int(0, default: 1))
        case .varchar: self = .varchar(length(default: 1))
        case .nchar: self = .nchar(int(0, default: 1))
        case .nvarchar: self = .nvarchar(length(default: 1))
        case .text: self = .text
        case .ntext: self = .ntext
        case .binary: self = .binary(int(0, default: 1))
        case .varbinary: self = .varbinary(length(default: 1))
        case .image: self = .image
        case .date: self = .date
        case .time: self = .time(scale: int(0, default: 7))
        case .smalldatetime: self = .smalldatetime
        case .datetime: self = .datetime
        case .datetime2: self = .datetime2(scale: int(0, default: 7))
        case .datetimeoffset: self = .datetimeoffset(scale: int(0, default: 7))
        case .uniqueidentifier: self = .uniqueidentifier
        case .xml: self = .xml
        }
    }
}
