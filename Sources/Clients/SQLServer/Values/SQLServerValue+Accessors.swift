import Foundation

extension SQLServerValue {
    /// Any integer type (and bit) as `Int64`; `nil` for other types and NULL.
    public var int64: Int64? {
        switch self {
        case .bit(let v): return v ? 1 : 0
        case .tinyint(let v): return Int64(v)
        case .smallint(let v): return Int64(v)
        case .int(let v): return Int64(v)
        case .bigint(let v): return v
        default: return nil
        }
    }

    public var int: Int? { int64.map { Int($0) } }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var bool: Bool? {
        if case .bit(let v) = self { return v }
        return nil
    }

    /// `decimal`, `numeric`, `money` and the integer types as an exact decimal.
    public var decimal: SQLDecimal? {
        switch self {
        case .decimal(let v), .money(let v): return v
        default: return int64.map { SQLDecimal($0) }
        }
    }

    public var double: Double? {
        switch self {
        case .float(let v): return v
        case .real(let v): return Double(v)
        default: return nil
        }
    }

    public var bytes: [UInt8]? {
        if case .bytes(let v) = self { return v }
        return nil
    }

    public var uuid: UUID? {
        if case .uuid(let v) = self { return v }
        return nil
    }

    public var dateTime: SQLDateTime? {
        if case .dateTime(let v) = self { return v }
        return nil
    }

    public var dateTimeOffset: SQLDateTimeOffset? {
        if case .dateTimeOffset(let v) = self { return v }
        return nil
    }
}

extension SQLServerValue: CustomStringConvertible {
    /// A readable rendering for logs and tests (`NULL`, `N'…'`, `0x0A0B`, …).
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .bit(let v): return v ? "1" : "0"
        case .tinyint(let v): return String(v)
        case .smallint(let v): return String(v)
        case .int(let v): return String(v)
        case .bigint(let v): return String(v)
        case .decimal(let v), .money(let v): return v.description
        case .real(let v): return String(v)
        case .float(let v): return String(v)
        case .string(let v): return "N'\(v.replacingOccurrences(of: "'", with: "''"))'"
        case .bytes(let v): return "0x" + v.map { String(format: "%02X", $0) }.joined()
        case .date(let v): return v.description
        case .time(let v): return v.description
        case .dateTime(let v): return v.description
        case .dateTimeOffset(let v): return v.description
        case .uuid(let v): return v.uuidString
        }
    }
}
