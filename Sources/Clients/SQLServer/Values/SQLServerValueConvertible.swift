import Foundation

/// A Swift value that can travel as a SQL Server parameter (used by ``SQLServerQuery`` interpolation).
public protocol SQLServerValueConvertible {
    var sqlServerValue: SQLServerValue { get }
}

extension SQLServerValue: SQLServerValueConvertible {
    public var sqlServerValue: SQLServerValue { self }
}
extension Bool: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .bit(self) } }
extension UInt8: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .tinyint(self) } }
extension Int16: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .smallint(self) } }
extension Int32: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .int(self) } }
extension Int64: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .bigint(self) } }
extension Int: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .bigint(Int64(self)) } }
extension Float: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .real(self) } }
extension Double: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .float(self) } }
extension String: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .string(self) } }
extension Substring: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .string(String(self)) } }
extension Array: SQLServerValueConvertible where Element == UInt8 { public var sqlServerValue: SQLServerValue { .bytes(self) } }
extension SQLDecimal: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .decimal(self) } }
extension SQLDate: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .date(self) } }
extension SQLTime: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .time(self) } }
extension SQLDateTime: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .dateTime(self) } }
extension SQLDateTimeOffset: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .dateTimeOffset(self) } }
extension UUID: SQLServerValueConvertible { public var sqlServerValue: SQLServerValue { .uuid(self) } }
extension Optional: SQLServerValueConvertible where Wrapped: SQLServerValueConvertible {
    public var sqlServerValue: SQLServerValue { self?.sqlServerValue ?? .null }
}
