import struct Foundation.Data
import SluiceCore

/// The text Postgres parses for an event's JSON value of a column (values travel as `text[]` bind
/// parameters and are cast to the column type in SQL), per `SQLServerTypeMapping`'s representations.
public enum PostgresValueText {
    public struct Invalid: Error, Hashable, Sendable, CustomStringConvertible {
        public var column: String
        public var detail: String
        public var description: String { "column \(column): \(detail)" }
    }

    public static func make(_ value: JSONValue?, form: PostgresColumnType.ValueForm, column: String) throws(Invalid) -> String? {
        guard let value, !value.isNull else { return nil }
        func bad(_ expected: String) -> Invalid { Invalid(column: column, detail: "expected \(expected), got \(value.serialized().prefix(80))") }
        func integer() throws(Invalid) -> Int64 {
            guard case .number(let n) = value, let i = Int64(n) else { throw bad("a whole number") }
            return i
        }
        switch form {
        case .boolean:
            switch value {
            case .bool(let b): return b ? "true" : "false"
            case .number("0"): return "false"
            case .number("1"): return "true"
            default: throw bad("true or false")
            }
        case .integer:
            return String(try integer())
        case .decimalText, .float:
            switch value {
            case .number(let n): return n
            case .string(let s) where isNumberText(s): return s
            default: throw bad("a number or a decimal string")
            }
        case .text, .uuid, .isoTimestamp:
            guard case .string(let s) = value else { throw bad("a string") }
            return s
        case .base64Bytes:
            guard case .string(let s) = value, let data = Data(base64Encoded: s) else { throw bad("base64 text") }
            return hexBytea(data)
        case .epochDays:
            return civilDate(days: try integer())
        case .timeOfDay(let units):
            let v = try integer()
            guard v >= 0, v < 86_400 * units else { throw bad("a time of day since midnight") }
            let (seconds, fraction) = (v / units, v % units)
            return clock(seconds) + fractionText(fraction, units: units)
        case .epochTimestamp(let units):
            let v = try integer()
            let seconds = floorDiv(v, units)
            let fraction = v - seconds * units
            let days = floorDiv(seconds, 86_400)
            return civilDate(days: days) + " " + clock(seconds - days * 86_400) + fractionText(fraction, units: units)
        }
    }

    static func isNumberText(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 || $0 == 43 || $0 == 101 || $0 == 69 }
            || ["NaN", "Infinity", "-Infinity"].contains(s)
    }

    static func hexBytea(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [92, 120]  // \x
        out.reserveCapacity(2 + data.count * 2)
        for byte in data {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    static func clock(_ secondsOfDay: Int64) -> String {
        pad(secondsOfDay / 3600, 2) + ":" + pad(secondsOfDay / 60 % 60, 2) + ":" + pad(secondsOfDay % 60, 2)
    }

    static func fractionText(_ fraction: Int64, units: Int64) -> String {
        guard units > 1 else { return "" }
        let digits = String(units).count - 1
        return "." + pad(fraction, digits)
    }

    /// Days since 1970-01-01 → `YYYY-MM-DD` (proleptic Gregorian; Howard Hinnant's civil_from_days).
    static func civilDate(days: Int64) -> String {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }
}
