import SluiceSQLServer

/// How each SQL Server column type is represented in change events: its JSON value and its Connect
/// field schema. Debezium's conventions (`time.precision.mode=adaptive`) with the source column type
/// propagated in the schema parameters (`column.propagate.source.type` for every column), so sinks can
/// create faithful target columns.
///
/// | SQL Server | JSON value | Connect schema |
/// |---|---|---|
/// | bit | `true` / `false` | boolean |
/// | tinyint, smallint | number | int16 |
/// | int | number | int32 |
/// | bigint | number (exact) | int64 |
/// | decimal(p,s), numeric(p,s), money, smallmoney | `decimal.handling.mode` string: `"1234.50"` with all `s` digits; double: number; precise: base64 of the unscaled two's-complement big-endian integer | string / float64 / bytes `org.apache.kafka.connect.data.Decimal` (`scale`) |
/// | real | number | float32 |
/// | float | number | float64 |
/// | char, varchar, nchar, nvarchar (incl. max) | string | string |
/// | binary, varbinary (incl. max) | base64 (or hex with `binary.handling.mode=hex`) | bytes |
/// | uniqueidentifier | string, upper case as SQL Server prints it | string |
/// | date | days since 1970-01-01 | int32 `io.debezium.time.Date` |
/// | time(0–3) | ms since midnight | int32 `io.debezium.time.Time` |
/// | time(4–6) | µs since midnight | int64 `io.debezium.time.MicroTime` |
/// | time(7) | ns since midnight | int64 `io.debezium.time.NanoTime` |
/// | smalldatetime, datetime, datetime2(0–3) | ms since epoch (the value as UTC, no zone) | int64 `io.debezium.time.Timestamp` |
/// | datetime2(4–6) | µs since epoch | int64 `io.debezium.time.MicroTimestamp` |
/// | datetime2(7) | ns since epoch | int64 `io.debezium.time.NanoTimestamp` |
/// | datetimeoffset(n) | ISO-8601 with the offset, n fraction digits: `"2025-01-06T09:37:00.358+01:00"` | string `io.debezium.time.ZonedTimestamp` |
///
/// Every field schema carries `__debezium.source.column.type` (upper-case type name),
/// `__debezium.source.column.length` (characters/bytes, `-1` for max; precision for decimals) and
/// `__debezium.source.column.scale` (decimal scale, fractional-second digits) where they apply.
public enum SQLServerTypeMapping {
    public enum DecimalMode: String, CaseIterable, Sendable { case string, double, precise }

    public struct UnsupportedType: Error, Hashable, Sendable, CustomStringConvertible {
        public let column: String
        public let typeName: String
        public var description: String {
            "column \(column) has type \(typeName), which Sluice does not capture; exclude the column from the capture instance (@captured_column_list) or from table.include.list"
        }
    }

    public static let sourceTypeParameter = "__debezium.source.column.type"
    public static let sourceLengthParameter = "__debezium.source.column.length"
    public static let sourceScaleParameter = "__debezium.source.column.scale"

    /// The field schema of a column with SQL Server type `typeName` (e.g. `nvarchar`, `decimal`, `datetime2`).
    /// - Parameters:
    ///   - length: characters for char types, bytes for binary types, -1 for max.
    ///   - precision, scale: decimal digits; `scale` is also the fractional-second digits of time types.
    public static func fieldSchema(column: String, typeName: String, length: Int?, precision: Int?, scale: Int?,
                                   optional: Bool, decimalMode: DecimalMode) throws(UnsupportedType) -> FieldSchema {
        guard let type = SQLServerDataType.Name(typeName) else { throw UnsupportedType(column: column, typeName: typeName) }
        var parameters: [(String, String)] = [(sourceTypeParameter, type.rawValue.uppercased())]
        switch type {
        case .bit: return FieldSchema(field: column, type: .boolean, optional: optional, parameters: parameters)
        case .tinyint, .smallint: return FieldSchema(field: column, type: .int16, optional: optional, parameters: parameters)
        case .int: return FieldSchema(field: column, type: .int32, optional: optional, parameters: parameters)
        case .bigint: return FieldSchema(field: column, type: .int64, optional: optional, parameters: parameters)
        case .real: return FieldSchema(field: column, type: .float32, optional: optional, parameters: parameters)
        case .float: return FieldSchema(field: column, type: .float64, optional: optional, parameters: parameters)
        case .decimal, .numeric, .money, .smallmoney:
            let (p, s) = type == .money ? (19, 4) : type == .smallmoney ? (10, 4) : (precision ?? 18, scale ?? 0)
            parameters += [(sourceLengthParameter, String(p)), (sourceScaleParameter, String(s))]
            switch decimalMode {
            case .string: return FieldSchema(field: column, type: .string, optional: optional, parameters: parameters)
            case .double: return FieldSchema(field: column, type: .float64, optional: optional, parameters: parameters)
            case .precise:
                return FieldSchema(field: column, type: .bytes, optional: optional, name: "org.apache.kafka.connect.data.Decimal",
                                   parameters: [("scale", String(s)), ("connect.decimal.precision", String(p))] + parameters, version: 1)
            }
        case .char, .varchar, .nchar, .nvarchar, .text, .ntext:
            if let length { parameters.append((sourceLengthParameter, String(length))) }
            return FieldSchema(field: column, type: .string, optional: optional, parameters: parameters)
        case .binary, .varbinary, .image:
            if let length { parameters.append((sourceLengthParameter, String(length))) }
            return FieldSchema(field: column, type: .bytes, optional: optional, parameters: parameters)
        case .uniqueidentifier:
            return FieldSchema(field: column, type: .string, optional: optional, parameters: parameters)
        case .date:
            return FieldSchema(field: column, type: .int32, optional: optional, name: "io.debezium.time.Date", parameters: parameters, version: 1)
        case .time:
            let s = scale ?? 7
            parameters.append((sourceScaleParameter, String(s)))
            if s <= 3 { return FieldSchema(field: column, type: .int32, optional: optional, name: "io.debezium.time.Time", parameters: parameters, version: 1) }
            if s <= 6 { return FieldSchema(field: column, type: .int64, optional: optional, name: "io.debezium.time.MicroTime", parameters: parameters, version: 1) }
            return FieldSchema(field: column, type: .int64, optional: optional, name: "io.debezium.time.NanoTime", parameters: parameters, version: 1)
        case .smalldatetime, .datetime, .datetime2:
            let s = type == .datetime2 ? (scale ?? 7) : (type == .datetime ? 3 : 0)
            parameters.append((sourceScaleParameter, String(s)))
            if s <= 3 { return FieldSchema(field: column, type: .int64, optional: optional, name: "io.debezium.time.Timestamp", parameters: parameters, version: 1) }
            if s <= 6 { return FieldSchema(field: column, type: .int64, optional: optional, name: "io.debezium.time.MicroTimestamp", parameters: parameters, version: 1) }
            return FieldSchema(field: column, type: .int64, optional: optional, name: "io.debezium.time.NanoTimestamp", parameters: parameters, version: 1)
        case .datetimeoffset:
            parameters.append((sourceScaleParameter, String(scale ?? 7)))
            return FieldSchema(field: column, type: .string, optional: optional, name: "io.debezium.time.ZonedTimestamp", parameters: parameters, version: 1)
        case .xml:  // not captured (README "Types": other types stop the source)
            throw UnsupportedType(column: column, typeName: typeName)
        }
    }
}
