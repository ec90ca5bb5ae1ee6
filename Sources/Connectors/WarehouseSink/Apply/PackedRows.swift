import SluiceCore
import SluiceSQLServer

/// A row set written as one JSON text, `[[v1, v2, …], …]`, for one `nvarchar(max)` parameter that
/// `OPENJSON(@p) WITH ([c1] type '$[0]', …)` unpacks server-side (StatementBuilder.appendRows). Values keep
/// their exact form: numbers as JSON numbers, decimals as JSON strings with all their scale digits
/// (converted by the WITH column's decimal type, never through a float), dates and datetimes in ISO
/// 8601 with the column type's fractional digits, binaries as hexadecimal strings (converted with
/// CONVERT's binary style 2: how OPENJSON itself converts a JSON string to binary is not documented),
/// strings escaped as JSONValue escapes them; NULL as null.
///
/// The writer's values go straight into the text, one row at a time (`beginRow`, the row's values in
/// column order, `endRow`): a batch's rows are never assembled as `[SQLServerValue]` arrays first.
struct PackedRows {
    /// The declared type of each row's values, in column order.
    let types: [SQLServerDataType]
    private var out: [UInt8]
    /// Rows begun so far.
    private(set) var count = 0
    /// Values written into the current row.
    private var column = 0

    init(types: [SQLServerDataType], expectedRows: Int = 0) {
        self.types = types
        out = []
        out.reserveCapacity(expectedRows * types.count * 14 + 2)
        out.append(UInt8(ascii: "["))
    }

    var isEmpty: Bool { count == 0 }

    /// The JSON text (UTF-8) of the rows written so far.
    var utf8: [UInt8] {
        var text = out
        text.append(UInt8(ascii: "]"))
        return text
    }

    var text: String { String(decoding: utf8, as: UTF8.self) }

    mutating func beginRow() {
        if count > 0 { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "["))
        count += 1
        column = 0
    }

    mutating func endRow() {
        assert(column == types.count, "a packed row has \(column) values for \(types.count) columns")
        out.append(UInt8(ascii: "]"))
    }

    @inline(__always)
    private mutating func separate() {
        if column > 0 { out.append(UInt8(ascii: ",")) }
        column += 1
    }

    /// A value of any type, as the column's declared type wants it.
    mutating func append(_ value: SQLServerValue) {
        let type = types[column]
        separate()
        Self.write(value, as: type, into: &out)
    }

    mutating func append(contentsOf values: [SQLServerValue]) {
        for value in values { append(value) }
    }

    mutating func appendInt(_ value: Int64) {
        separate()
        JSONByteWriter.int(value, into: &out)
    }

    mutating func appendBit(_ value: Bool) {
        separate()
        out.append(value ? UInt8(ascii: "1") : UInt8(ascii: "0"))
    }

    mutating func appendNull() {
        separate()
        JSONByteWriter.raw("null", into: &out)
    }

    /// Bytes as a hexadecimal string (for `CONVERT(binary(n), …, 2)`).
    mutating func appendHex(_ bytes: [UInt8]) {
        separate()
        out.append(UInt8(ascii: "\""))
        for byte in bytes { Self.hex(byte, into: &out) }
        out.append(UInt8(ascii: "\""))
    }

    /// A position as the hexadecimal string of its `warehouseBytes` (the 58-byte sort key), written
    /// without building the sort key's string.
    mutating func appendPosition(_ position: SourcePosition) {
        separate()
        out.append(UInt8(ascii: "\""))
        position.withSortKeyBytes { bytes in
            for byte in bytes { Self.hex(byte, into: &out) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A time (ms since the epoch) as a datetime of the column's type.
    mutating func appendDateTime(millisecondsSinceEpoch ms: Int64) {
        append(.dateTime(SQLDateTime(millisecondsSinceEpoch: ms)))
    }

    // MARK: One-shot forms

    /// `rows` written; `types[i]` is the declared type of each row's `i`th value.
    init(rows: some Collection<[SQLServerValue]>, types: [SQLServerDataType]) {
        self.init(types: types, expectedRows: rows.count)
        for row in rows {
            beginRow()
            append(contentsOf: row)
            endRow()
        }
    }

    /// The JSON text of `rows`; `types[i]` is the declared type of each row's `i`th value.
    static func json(_ rows: some Collection<[SQLServerValue]>, types: [SQLServerDataType]) -> String {
        PackedRows(rows: rows, types: types).text
    }

    /// A JSON array of integers, `[1,2,3]`.
    static func json(_ values: some Collection<Int64>) -> String {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(values.count * 8 + 2)
        var first = true
        for value in values {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONByteWriter.int(value, into: &out)
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Values

    static func write(_ value: SQLServerValue, as type: SQLServerDataType, into out: inout [UInt8]) {
        switch value {
        case .null: JSONByteWriter.raw("null", into: &out)
        case .bit(let b): out.append(b ? UInt8(ascii: "1") : UInt8(ascii: "0"))
        case .tinyint(let v): JSONByteWriter.int(Int64(v), into: &out)
        case .smallint(let v): JSONByteWriter.int(Int64(v), into: &out)
        case .int(let v): JSONByteWriter.int(Int64(v), into: &out)
        case .bigint(let v): JSONByteWriter.int(v, into: &out)
        case .decimal(let d), .money(let d): JSONByteWriter.string(d.description, into: &out)
        case .real(let f): out.append(contentsOf: f.isFinite ? Array(f.description.utf8) : Array("null".utf8))
        case .float(let f): out.append(contentsOf: f.isFinite ? Array(f.description.utf8) : Array("null".utf8))
        case .string(let s): JSONByteWriter.string(s, into: &out)
        case .bytes(let bytes):
            out.append(UInt8(ascii: "\""))
            for byte in bytes { hex(byte, into: &out) }
            out.append(UInt8(ascii: "\""))
        case .date(let d):
            out.append(UInt8(ascii: "\""))
            writeDate(d, into: &out)
            out.append(UInt8(ascii: "\""))
        case .time(let t):
            out.append(UInt8(ascii: "\""))
            writeTime(t, fractionalDigits: fractionalDigits(of: type), into: &out)
            out.append(UInt8(ascii: "\""))
        case .dateTime(let dt):
            out.append(UInt8(ascii: "\""))
            writeDate(dt.date, into: &out)
            out.append(UInt8(ascii: "T"))
            writeTime(dt.time, fractionalDigits: fractionalDigits(of: type), into: &out)
            out.append(UInt8(ascii: "\""))
        case .dateTimeOffset(let dto): JSONByteWriter.string(dto.description, into: &out)
        case .uuid(let u): JSONByteWriter.string(u.uuidString, into: &out)
        }
    }

    /// The fractional-second digits a value of `type` holds (datetime: 3; time/datetime2: their scale).
    static func fractionalDigits(of type: SQLServerDataType) -> Int {
        switch type {
        case .datetime2(let scale), .time(let scale), .datetimeoffset(let scale): min(max(scale, 0), 7)
        case .smalldatetime: 0
        default: 3
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 + nibble : 87 + nibble }

    @inline(__always)
    private static func hex(_ byte: UInt8, into out: inout [UInt8]) {
        out.append(hexDigit(byte >> 4))
        out.append(hexDigit(byte & 0xF))
    }

    /// `value` as exactly `width` decimal digits, zero-padded on the left.
    private static func digits(_ value: Int, _ width: Int, into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var v = value
        var i = start + width - 1
        while v > 0 && i >= start {
            out[i] = UInt8(48 + v % 10)
            v /= 10
            i -= 1
        }
    }

    private static func writeDate(_ d: SQLDate, into out: inout [UInt8]) {
        digits(d.year, 4, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(d.month, 2, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(d.day, 2, into: &out)
    }

    private static func writeTime(_ t: SQLTime, fractionalDigits: Int, into out: inout [UInt8]) {
        digits(t.hour, 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(t.minute, 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(t.second, 2, into: &out)
        guard fractionalDigits > 0 else { return }
        out.append(UInt8(ascii: "."))
        var fraction = t.nanosecond
        for _ in fractionalDigits..<9 { fraction /= 10 }
        digits(fraction, fractionalDigits, into: &out)
    }
}
