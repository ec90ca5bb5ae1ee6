import SluiceCore
import SluiceSQLServer

/// One attribute column of a warehouse table: its name (the source column's name) and how its value
/// travels from a change event (README "Types", `SQLServerTypeMapping`) into SQL Server.
public struct WarehouseColumn: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// `int`: a JSON number.
        case int
        /// `nvarchar(n)`: a JSON string.
        case string(Int)
        /// `decimal(p,s)`: a JSON string with all `s` digits (`decimal.handling.mode=string`) or a number.
        case decimal(precision: Int, scale: Int)
        /// `date`: days since 1970-01-01.
        case date
        /// `datetime2(3)`: ms since the epoch (the value as UTC).
        case timestamp
    }

    public var name: String
    public var kind: Kind

    public init(_ name: String, _ kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// The declared type of parameters carrying this column.
    public var sqlType: SQLServerDataType {
        switch kind {
        case .int: .int
        case .string(let n): .nvarchar(.count(n))
        case .decimal(let p, let s): .decimal(precision: p, scale: s)
        case .date: .date
        case .timestamp: .datetime2(scale: 3)
        }
    }

    /// The value of this column in an event row (`after`, or `before` for a delete); a missing field is NULL.
    public func value(in row: JSONObject) throws(WarehouseSinkError) -> SQLServerValue {
        let json = row[name] ?? .null
        if json.isNull { return .null }
        switch kind {
        case .int:
            guard let n = json.int64Value, let v = Int32(exactly: n) else { throw invalid(json, "a whole number") }
            return .int(v)
        case .string:
            guard let s = json.stringValue else { throw invalid(json, "a string") }
            return .string(s)
        case .decimal(_, let scale):
            let text: String?
            switch json {
            case .string(let s), .number(let s): text = s
            default: text = nil
            }
            guard let text, let d = SQLDecimal(text), let v = d.rescaled(to: scale) else {
                throw invalid(json, "a decimal with at most \(scale) fraction digits (decimal.handling.mode=string)")
            }
            return .decimal(v)
        case .date:
            guard let days = json.int64Value else { throw invalid(json, "days since 1970-01-01") }
            return .date(SQLDate(daysSince1900: Int(days) + SQLDate.daysFrom1900To1970))
        case .timestamp:
            guard let ms = json.int64Value else { throw invalid(json, "ms since the epoch (io.debezium.time.Timestamp)") }
            return .dateTime(SQLDateTime(millisecondsSinceEpoch: ms))
        }
    }

    /// A value read back from the warehouse in the same form `value(in:)` produces, so the two compare
    /// equal exactly when the warehouse holds the event's value.
    public func normalize(_ value: SQLServerValue) -> SQLServerValue {
        if value.isNull { return .null }
        switch kind {
        case .int: return value.int64.flatMap { Int32(exactly: $0) }.map { .int($0) } ?? value
        case .string: return value
        case .decimal(_, let scale): return value.decimal.flatMap { $0.rescaled(to: scale) }.map { .decimal($0) } ?? value
        case .date:
            if case .dateTime(let dt) = value { return .date(dt.date) }
            return value
        case .timestamp:
            guard case .dateTime(let dt) = value else { return value }
            return .dateTime(SQLDateTime(millisecondsSinceEpoch: dt.millisecondsSinceEpoch))
        }
    }

    private func invalid(_ json: JSONValue, _ expected: String) -> WarehouseSinkError {
        // The value itself is not in the message: it may be personal data.
        let found = switch json {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number that does not fit"
        case .string: "a string that does not fit"
        case .array: "an array"
        case .object: "an object"
        }
        return WarehouseSinkError(code: .invalidValue,
                                  message: "column \(name) holds \(found), expected \(expected); check the source connector's type settings (decimal.handling.mode=string, time.precision.mode)")
    }
}
