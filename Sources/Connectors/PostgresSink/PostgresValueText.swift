import struct Foundation.Data
import NIOCore
import SluiceCore

/// The text Postgres parses for an event's JSON value of a column (values travel as `text[]` bind
/// parameters and are cast to the column type in SQL), per `SQLServerTypeMapping`'s representations.
///
/// `write` appends the text straight to the bind parameter's bytes (no `String` per value: the sink
/// does this for every column of every event); `make` returns it as a `String`.
public enum PostgresValueText {
    public struct Invalid: Error, Hashable, Sendable, CustomStringConvertible {
        public var column: String
        public var detail: String
        public var description: String { "column \(column): \(detail)" }
    }

    public static func make(_ value: JSONValue?, form: PostgresColumnType.ValueForm, column: String) throws(Invalid) -> String? {
        var buffer = ByteBuffer()
        guard try write(value, form: form, column: column, into: &buffer) else { return nil }
        return String(buffer: buffer)
    }

    /// Appends the value's text to `buffer`; false (nothing written) for SQL NULL.
    @inline(__always)
    public static func write(_ value: JSONValue?, form: PostgresColumnType.ValueForm, column: String,
                             into buffer: inout ByteBuffer) throws(Invalid) -> Bool {
        guard let value else { return false }
        switch (form, value) {
        case (_, .null): return false
        case (.text, .string(let s)), (.uuid, .string(let s)), (.isoTimestamp, .string(let s)):
            buffer.writeString(s)
        case (.integer, .number(let n)):
            if isPlainInteger(n) { buffer.writeString(n) } else { buffer.writeString(String(try integer(value, column: column))) }
        case (.decimalText, .number(let n)), (.float, .number(let n)):
            buffer.writeString(n)
        case (.decimalText, .string(let s)) where isNumberText(s), (.float, .string(let s)) where isNumberText(s):
            buffer.writeString(s)
        case (.boolean, .bool(let b)):
            buffer.writeStaticString(b ? "true" : "false")
        case (.boolean, .number("0")):
            buffer.writeStaticString("false")
        case (.boolean, .number("1")):
            buffer.writeStaticString("true")
        case (.epochDays, _):
            writeCivilDate(days: try integer(value, column: column), into: &buffer)
        case (.timeOfDay(let units), _):
            let v = try integer(value, column: column)
            guard v >= 0, v < 86_400 * units else { throw bad(value, column: column, "a time of day since midnight") }
            writeClock(v / units, into: &buffer)
            writeFraction(v % units, units: units, into: &buffer)
        case (.epochTimestamp(let units), _):
            let v = try integer(value, column: column)
            let seconds = floorDiv(v, units)
            let fraction = v - seconds * units
            let days = floorDiv(seconds, 86_400)
            writeCivilDate(days: days, into: &buffer)
            buffer.writeInteger(UInt8(ascii: " "))
            writeClock(seconds - days * 86_400, into: &buffer)
            writeFraction(fraction, units: units, into: &buffer)
        case (.base64Bytes, .string(let s)):
            guard let data = Data(base64Encoded: s) else { throw bad(value, column: column, "base64 text") }
            writeHexBytea(data, into: &buffer)
        case (.boolean, _): throw bad(value, column: column, "true or false")
        case (.integer, _): throw bad(value, column: column, "a whole number")
        case (.decimalText, _), (.float, _): throw bad(value, column: column, "a number or a decimal string")
        case (.text, _), (.uuid, _), (.isoTimestamp, _): throw bad(value, column: column, "a string")
        case (.base64Bytes, _): throw bad(value, column: column, "base64 text")
        }
        return true
    }

    static func bad(_ value: JSONValue, column: String, _ expected: String) -> Invalid {
        Invalid(column: column, detail: "expected \(expected), got \(value.serialized().prefix(80))")
    }

    static func integer(_ value: JSONValue, column: String) throws(Invalid) -> Int64 {
        guard case .number(let n) = value, let i = Int64(n) else { throw bad(value, column: column, "a whole number") }
        return i
    }

    /// `-?[0-9]{1,18}`: a JSON integer that certainly fits Int64, passed on as written.
    static func isPlainInteger(_ n: String) -> Bool {
        var utf8 = n.utf8.makeIterator()
        var count = 0
        var first = true
        while let b = utf8.next() {
            if first && b == UInt8(ascii: "-") { first = false; continue }
            first = false
            guard b >= 48 && b <= 57 else { return false }
            count += 1
        }
        return count > 0 && count <= 18
    }

    static func isNumberText(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 45 || $0 == 43 || $0 == 101 || $0 == 69 }
            || ["NaN", "Infinity", "-Infinity"].contains(s)
    }

    static func writeHexBytea(_ data: Data, into buffer: inout ByteBuffer) {
        let digits: StaticString = "0123456789abcdef"
        buffer.writeStaticString("\\x")
        for byte in data {
            buffer.writeInteger(digits.utf8Start[Int(byte >> 4)])
            buffer.writeInteger(digits.utf8Start[Int(byte & 15)])
        }
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// `n` in decimal, left-padded with zeros to `width` digits (a negative number: its sign, then digits).
    static func writePadded(_ n: Int64, _ width: Int, into buffer: inout ByteBuffer) {
        guard n >= 0 else {
            let s = String(n)
            for _ in 0..<max(0, width - s.utf8.count) { buffer.writeInteger(UInt8(ascii: "0")) }
            buffer.writeString(s)
            return
        }
        var digits = 1
        var scale: Int64 = 10
        while digits < 19 && n >= scale { digits += 1; scale &*= 10 }
        let total = max(width, digits)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            var v = n
            var i = total - 1
            while i >= 0 {
                raw[i] = UInt8(48 + v % 10)
                v /= 10
                i -= 1
            }
            return total
        }
    }

    static func writeClock(_ secondsOfDay: Int64, into buffer: inout ByteBuffer) {
        writePadded(secondsOfDay / 3600, 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        writePadded(secondsOfDay / 60 % 60, 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
        writePadded(secondsOfDay % 60, 2, into: &buffer)
    }

    static func writeFraction(_ fraction: Int64, units: Int64, into buffer: inout ByteBuffer) {
        guard units > 1 else { return }
        var digits = 0
        var u = units
        while u > 1 { u /= 10; digits += 1 }
        buffer.writeInteger(UInt8(ascii: "."))
        writePadded(fraction, digits, into: &buffer)
    }

    /// Days since 1970-01-01 → `YYYY-MM-DD` (proleptic Gregorian; Howard Hinnant's civil_from_days).
    static func writeCivilDate(days: Int64, into buffer: inout ByteBuffer) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        writePadded(y, 4, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        writePadded(m, 2, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "-"))
        writePadded(d, 2, into: &buffer)
    }

    /// `YYYY-MM-DD` as a `String`.
    static func civilDate(days: Int64) -> String {
        var buffer = ByteBuffer()
        writeCivilDate(days: days, into: &buffer)
        return String(buffer: buffer)
    }
}
