import Foundation
import SluiceCore
import SluiceSQLServer

/// Converts SQL Server values into their JSON representation in change events, as
/// `SQLServerTypeMapping` documents: exact decimals, Debezium's adaptive time units, base64 binaries.
public struct ValueMapper: Sendable {
    public var decimalMode: SQLServerTypeMapping.DecimalMode
    public var binaryHex: Bool

    public init(decimalMode: SQLServerTypeMapping.DecimalMode, binaryHex: Bool) {
        self.decimalMode = decimalMode
        self.binaryHex = binaryHex
    }

    public struct MappingError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Days from 1900-01-01 (SQL Server's day zero) to 1970-01-01.
    static let epochDaysSince1900 = 25_567

    public func json(_ value: SQLServerValue, column: CapturedColumn) throws(MappingError) -> JSONValue {
        switch value {
        case .null: return .null
        case .bit(let b): return .bool(b)
        case .tinyint(let v): return .int(v)
        case .smallint(let v): return .int(v)
        case .int(let v): return .int(v)
        case .bigint(let v): return .int(v)
        case .decimal(let d), .money(let d): return try decimal(d, column: column)
        case .real(let f): return .number(String(f))
        case .float(let d): return .number(String(d))
        case .string(let s): return .string(s)
        case .bytes(let b): return .string(binaryHex ? b.map { String(format: "%02x", $0) }.joined() : Data(b).base64EncodedString())
        case .uuid(let u): return .string(u.uuidString.uppercased())
        case .date(let d): return .int(d.daysSince1900 - Self.epochDaysSince1900)
        case .time(let t):
            let nanos = Int64(t.ticksSinceMidnight) * 100
            let scale = column.scale ?? 7
            if scale <= 3 { return .int(nanos / 1_000_000) }
            if scale <= 6 { return .int(nanos / 1_000) }
            return .int(nanos)
        case .dateTime(let dt):
            let scale = column.isDateTime2 ? (column.scale ?? 7) : 3
            let days = Int64(dt.date.daysSince1900 - Self.epochDaysSince1900)
            let nanosOfDay = Int64(dt.time.ticksSinceMidnight) * 100
            if scale <= 3 { return .int(days * 86_400_000 + nanosOfDay / 1_000_000) }
            if scale <= 6 { return .int(days * 86_400_000_000 + nanosOfDay / 1_000) }
            let (dayNanos, overflow) = days.multipliedReportingOverflow(by: 86_400_000_000_000)
            guard !overflow else {
                throw MappingError(description: "column \(column.name): \(dt) is outside the range of io.debezium.time.NanoTimestamp (years 1678-2262)")
            }
            return .int(dayNanos + nanosOfDay)
        case .dateTimeOffset(let dto): return .string(Self.iso8601(dto, scale: column.scale ?? 7))
        }
    }

    func decimal(_ d: SQLDecimal, column: CapturedColumn) throws(MappingError) -> JSONValue {
        let scale = column.isMoney ? 4 : (column.scale ?? d.scale)
        guard let exact = d.rescaled(to: scale) else {
            throw MappingError(description: "column \(column.name): \(d) does not fit scale \(scale)")
        }
        switch decimalMode {
        case .string: return .string(exact.description)
        case .double: return .number(exact.description)
        case .precise: return .string(Data(Self.twosComplementBigEndian(exact.significand)).base64EncodedString())
        }
    }

    /// The minimal two's-complement big-endian bytes of `value` (Java's BigInteger.toByteArray).
    static func twosComplementBigEndian(_ value: Int128) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = value
        repeat {
            bytes.insert(UInt8(truncatingIfNeeded: v), at: 0)
            v >>= 8
        } while !((v == 0 && bytes[0] & 0x80 == 0) || (v == -1 && bytes[0] & 0x80 != 0))
        return bytes
    }

    /// `2025-01-06T09:37:00.358+01:00` with `scale` fraction digits.
    static func iso8601(_ value: SQLDateTimeOffset, scale: Int) -> String {
        let local = value.local
        func pad(_ n: Int, _ w: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        var text = "\(pad(local.date.year, 4))-\(pad(local.date.month, 2))-\(pad(local.date.day, 2))T"
            + "\(pad(local.time.hour, 2)):\(pad(local.time.minute, 2)):\(pad(local.time.second, 2))"
        if scale > 0 {
            let fraction = pad(local.time.nanosecond / 100, 7)
            text += "." + fraction.prefix(min(scale, 7))
        }
        let offset = value.offsetMinutes
        text += (offset < 0 ? "-" : "+") + pad(abs(offset) / 60, 2) + ":" + pad(abs(offset) % 60, 2)
        return text
    }
}
