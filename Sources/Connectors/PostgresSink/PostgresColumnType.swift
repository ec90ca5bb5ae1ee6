import SluiceCore
import SluiceSQLServer

/// The Postgres column type of a source column, from the SQL Server type the source propagates in the
/// field schema (`__debezium.source.column.type/length/scale`), else from the Connect type and its
/// logical name.
///
/// | SQL Server | Postgres |
/// |---|---|
/// | bit | boolean |
/// | tinyint, smallint / int / bigint | smallint / integer / bigint |
/// | real / float | real / double precision |
/// | decimal(p,s), numeric(p,s) | numeric(p,s) |
/// | money / smallmoney | numeric(19,4) / numeric(10,4) |
/// | char(n), nchar(n) | character(n) |
/// | varchar(n), nvarchar(n) | varchar(n); (max) → text |
/// | text, ntext | text |
/// | binary, varbinary, image | bytea |
/// | uniqueidentifier | uuid |
/// | date | date |
/// | time(n) | time(min(n,6)) |
/// | datetime2(n) / datetime / smalldatetime | timestamp(min(n,6)) / timestamp(3) / timestamp(0) |
/// | datetimeoffset(n) | timestamptz(min(n,6)) |
///
/// Postgres keeps microseconds: a datetime2(7)/time(7) value's 7th digit is rounded by Postgres.
public struct PostgresColumnType: Hashable, Sendable, CustomStringConvertible {
    /// How a JSON value of the event becomes the text Postgres parses for this type.
    public enum ValueForm: Hashable, Sendable {
        case boolean, integer, decimalText, float, text, base64Bytes, uuid
        case epochDays
        case timeOfDay(unitsPerSecond: Int64)
        case epochTimestamp(unitsPerSecond: Int64)
        case isoTimestamp
    }

    /// The type as `format_type` prints it (e.g. `numeric(10,2)`, `character varying(50)`).
    public var sql: String
    public var form: ValueForm

    public var description: String { sql }

    /// The type values are cast to in SQL before they are assigned to the column: character types lose
    /// their length, because an explicit cast to `varchar(n)` truncates silently while the assignment to
    /// the column refuses an over-long value (SQLSTATE 22001), as a faithful replica must.
    public var castSQL: String {
        sql.hasPrefix("character varying(") || sql.hasPrefix("character(") ? "text" : sql
    }

    public init(sql: String, form: ValueForm) {
        self.sql = sql
        self.form = form
    }

    public struct Unsupported: Error, Hashable, Sendable, CustomStringConvertible {
        public var column: String
        public var detail: String
        public var description: String { "column \(column): \(detail)" }
    }

    public static func of(_ field: FieldSchema) throws(Unsupported) -> PostgresColumnType {
        if let source = field.parameter(SQLServerTypeMapping.sourceTypeParameter) {
            if let name = SQLServerDataType.Name(source), let type = fromSourceType(name, field: field) { return type }
        }
        return try fromConnect(field)
    }

    static func fromSourceType(_ type: SQLServerDataType.Name, field: FieldSchema) -> PostgresColumnType? {
        let length = field.parameter(SQLServerTypeMapping.sourceLengthParameter).flatMap { Int($0) }
        let scale = field.parameter(SQLServerTypeMapping.sourceScaleParameter).flatMap { Int($0) }
        func fraction(_ s: Int?) -> Int { min(6, max(0, s ?? 7)) }
        let numericForm: ValueForm = field.type == .bytes ? .decimalText : (field.type == .float64 ? .float : .decimalText)
        switch type {
        case .bit: return .init(sql: "boolean", form: .boolean)
        case .tinyint, .smallint: return .init(sql: "smallint", form: .integer)
        case .int: return .init(sql: "integer", form: .integer)
        case .bigint: return .init(sql: "bigint", form: .integer)
        case .real: return .init(sql: "real", form: .float)
        case .float: return .init(sql: "double precision", form: .float)
        case .decimal, .numeric:
            if field.type == .bytes { return nil }  // precise mode: decoded from the Connect decimal below
            return .init(sql: "numeric(\(length ?? 18),\(scale ?? 0))", form: numericForm)
        case .money: return field.type == .bytes ? nil : .init(sql: "numeric(19,4)", form: numericForm)
        case .smallmoney: return field.type == .bytes ? nil : .init(sql: "numeric(10,4)", form: numericForm)
        case .char, .nchar:
            return .init(sql: length.map { $0 > 0 ? "character(\($0))" : "text" } ?? "text", form: .text)
        case .varchar, .nvarchar:
            return .init(sql: length.map { $0 > 0 ? "character varying(\($0))" : "text" } ?? "text", form: .text)
        case .text, .ntext, .xml: return .init(sql: "text", form: .text)
        case .binary, .varbinary, .image: return field.type == .bytes ? .init(sql: "bytea", form: .base64Bytes) : nil
        case .uniqueidentifier: return .init(sql: "uuid", form: .uuid)
        case .date: return .init(sql: "date", form: .epochDays)
        case .time:
            let s = scale ?? 7
            return .init(sql: "time(\(fraction(s))) without time zone", form: .timeOfDay(unitsPerSecond: s <= 3 ? 1_000 : s <= 6 ? 1_000_000 : 1_000_000_000))
        case .datetime2, .datetime, .smalldatetime:
            let s = type == .datetime2 ? (scale ?? 7) : (type == .datetime ? 3 : 0)
            return .init(sql: "timestamp(\(fraction(s))) without time zone",
                         form: .epochTimestamp(unitsPerSecond: s <= 3 ? 1_000 : s <= 6 ? 1_000_000 : 1_000_000_000))
        case .datetimeoffset:
            return .init(sql: "timestamp(\(fraction(scale))) with time zone", form: .isoTimestamp)
        }
    }

    static func fromConnect(_ field: FieldSchema) throws(Unsupported) -> PostgresColumnType {
        switch (field.type, field.name) {
        case (.int32, "io.debezium.time.Date"): return .init(sql: "date", form: .epochDays)
        case (.int32, "io.debezium.time.Time"): return .init(sql: "time(3) without time zone", form: .timeOfDay(unitsPerSecond: 1_000))
        case (.int64, "io.debezium.time.MicroTime"): return .init(sql: "time(6) without time zone", form: .timeOfDay(unitsPerSecond: 1_000_000))
        case (.int64, "io.debezium.time.NanoTime"): return .init(sql: "time(6) without time zone", form: .timeOfDay(unitsPerSecond: 1_000_000_000))
        case (.int64, "io.debezium.time.Timestamp"): return .init(sql: "timestamp(3) without time zone", form: .epochTimestamp(unitsPerSecond: 1_000))
        case (.int64, "io.debezium.time.MicroTimestamp"): return .init(sql: "timestamp(6) without time zone", form: .epochTimestamp(unitsPerSecond: 1_000_000))
        case (.int64, "io.debezium.time.NanoTimestamp"): return .init(sql: "timestamp(6) without time zone", form: .epochTimestamp(unitsPerSecond: 1_000_000_000))
        case (.string, "io.debezium.time.ZonedTimestamp"): return .init(sql: "timestamp(6) with time zone", form: .isoTimestamp)
        case (.bytes, "org.apache.kafka.connect.data.Decimal"):
            throw Unsupported(column: field.field, detail: "Connect decimals in bytes (decimal.handling.mode=precise) are not supported by the Postgres sink; use decimal.handling.mode=string at the source")
        case (.int8, _), (.int16, _): return .init(sql: "smallint", form: .integer)
        case (.int32, _): return .init(sql: "integer", form: .integer)
        case (.int64, _): return .init(sql: "bigint", form: .integer)
        case (.float32, _): return .init(sql: "real", form: .float)
        case (.float64, _): return .init(sql: "double precision", form: .float)
        case (.boolean, _): return .init(sql: "boolean", form: .boolean)
        case (.string, _): return .init(sql: "text", form: .text)
        case (.bytes, _): return .init(sql: "bytea", form: .base64Bytes)
        }
    }

    /// Whether a column of type `existing` can hold values of `self` without a lossy cast; `widening`
    /// is the ALTER needed first (nil when none is needed).
    public func compatibility(withExisting existing: String) -> (compatible: Bool, widenTo: String?) {
        if existing == sql { return (true, nil) }
        // varchar(n) → varchar(m > n) or text: widen.
        if existing.hasPrefix("character varying("), let n = Self.length(existing) {
            if sql == "text" { return (true, "text") }
            if sql.hasPrefix("character varying("), let m = Self.length(sql) { return m >= n ? (true, m > n ? sql : nil) : (true, nil) }
        }
        if existing == "text" && (sql.hasPrefix("character varying(") || sql.hasPrefix("character(")) { return (true, nil) }
        // numeric(p,s) → numeric(p2 ≥ p, same s): widen.
        if existing.hasPrefix("numeric("), sql.hasPrefix("numeric("), let a = Self.precisionScale(existing), let b = Self.precisionScale(sql), a.1 == b.1 {
            return b.0 > a.0 ? (true, sql) : (true, nil)
        }
        // Integers: a wider existing column holds a narrower source type.
        let integers = ["smallint", "integer", "bigint"]
        if let e = integers.firstIndex(of: existing), let n = integers.firstIndex(of: sql) { return n <= e ? (true, nil) : (true, sql) }
        return (false, nil)
    }

    static func length(_ type: String) -> Int? {
        guard let open = type.firstIndex(of: "("), let close = type.firstIndex(of: ")") else { return nil }
        return Int(type[type.index(after: open)..<close])
    }

    static func precisionScale(_ type: String) -> (Int, Int)? {
        guard let open = type.firstIndex(of: "("), let close = type.firstIndex(of: ")") else { return nil }
        let parts = type[type.index(after: open)..<close].split(separator: ",")
        guard parts.count == 2, let p = Int(parts[0]), let s = Int(parts[1]) else { return nil }
        return (p, s)
    }
}
