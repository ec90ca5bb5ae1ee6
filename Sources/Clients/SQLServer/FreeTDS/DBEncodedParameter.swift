import CFreeTDS
import Foundation

/// One RPC parameter as `dbrpcparam` takes it: the db-lib type, lengths and the value's bytes in
/// db-lib's in-memory layout (`nil` bytes: NULL).
struct DBEncodedParameter: Sendable, Hashable {
    var name: String?
    var isOutput: Bool
    var type: Int32
    var maxLength: Int32
    var dataLength: Int32
    var bytes: [UInt8]?

    /// A positional `nvarchar(max)` argument (`@stmt` and `@params` of `sp_executesql`). Past 4000
    /// characters it travels as ntext, as long string values do (see `init`): db-lib would cut an
    /// nvarchar at 8000 bytes, and a statement over a batch (2000 parameters) is far longer.
    static func positionalText(_ text: String) -> DBEncodedParameter {
        let bytes = Array(text.utf8)
        let type = exceedsNVarChar(text, utf8Count: bytes.count) ? Int32(SYBNTEXT) : DBValueDecoder.ExtraType.nVarChar
        return DBEncodedParameter(name: nil, isOutput: false, type: type, maxLength: -1, dataLength: Int32(bytes.count), bytes: bytes)
    }

    /// Whether `text` has more than 4000 UTF-16 code units (db-lib's nvarchar limit), decided from its
    /// UTF-8 length where that settles it: every code unit takes 1-3 UTF-8 bytes, so up to 4000 bytes never
    /// exceed and over 12000 always do. Counting `utf16` of a long non-ASCII string walks all of it (the
    /// packed row sets of a batch are 100 KB strings).
    static func exceedsNVarChar(_ text: String, utf8Count: Int) -> Bool {
        if utf8Count <= 4000 { return false }
        if utf8Count > 12000 { return true }
        return text.utf16.count > 4000
    }

    /// Encodes a typed parameter: the value in its natural wire type, shaped by the declared type
    /// (precision/scale of decimals, lengths of strings). Values that do not fit are refused, never
    /// rounded.
    init(_ parameter: SQLServerParameter) throws(SQLServerError) {
        self.name = parameter.name
        self.isOutput = parameter.isOutput
        let declared = parameter.type
        func refuse(_ why: String) -> SQLServerError {
            SQLServerError(code: .unsupportedValue, message: "Parameter \(parameter.name) (\(declared.declaration)): \(why).")
        }
        func fixed<T>(_ type: Int32, _ value: T) -> (Int32, Int32, Int32, [UInt8]) {
            let bytes = withUnsafeBytes(of: value) { Array($0) }
            return (type, -1, Int32(bytes.count), bytes)
        }
        let encoded: (type: Int32, maxLength: Int32, dataLength: Int32, bytes: [UInt8]?)
        switch parameter.value {
        case .null:
            let (type, maxLength) = Self.nullWireType(for: declared)
            encoded = (type, maxLength, 0, nil)
        case .bit(let value): encoded = fixed(Int32(SYBBIT), UInt8(value ? 1 : 0))
        case .tinyint(let value): encoded = fixed(Int32(SYBINT1), value)
        case .smallint(let value): encoded = fixed(Int32(SYBINT2), value)
        case .int(let value): encoded = fixed(Int32(SYBINT4), value)
        case .bigint(let value): encoded = fixed(Int32(SYBINT8), value)
        case .real(let value): encoded = fixed(Int32(SYBREAL), value)
        case .float(let value): encoded = fixed(Int32(SYBFLT8), value)
        case .money(let value):
            guard let scaled = value.rescaled(to: 4), let units = Int64(exactly: scaled.significand) else {
                throw refuse("\(value) does not fit money (4 decimal places, 64 bits)")
            }
            var money = DBMONEY()
            money.mnyhigh = DBINT(truncatingIfNeeded: units >> 32)
            money.mnylow = DBUINT(truncatingIfNeeded: units)
            encoded = fixed(Int32(SYBMONEY), money)
        case .decimal(let value):
            let (precision, scale): (Int, Int)
            switch declared {
            case .decimal(let p, let s), .numeric(let p, let s): (precision, scale) = (p, s)
            default: (precision, scale) = (max(value.precision, value.scale), value.scale)
            }
            guard let bytes = Self.numericBytes(value, precision: precision, scale: scale) else {
                throw refuse("\(value) does not fit decimal(\(precision),\(scale)) without rounding")
            }
            encoded = (Int32(SYBDECIMAL), Int32(bytes.count), Int32(bytes.count), bytes)
        case .string(let value):
            let bytes = Array(value.utf8)
            var (type, maxLength) = Self.stringWireType(for: declared)
            // db-lib sends nvarchar/varchar parameters with a 2-byte length and cuts them at 8000
            // bytes; longer values travel as ntext/text (4-byte length), which sp_executesql converts
            // to the declared (max) type.
            if type == DBValueDecoder.ExtraType.nVarChar, Self.exceedsNVarChar(value, utf8Count: bytes.count) { type = Int32(SYBNTEXT) }
            if type == DBValueDecoder.ExtraType.bigVarChar, bytes.count > 8000 { type = Int32(SYBTEXT) }
            encoded = (type, maxLength, Int32(bytes.count), bytes)
        case .bytes(let value):
            let maxLength: Int32
            switch declared {
            case .binary(let n), .varbinary(.count(let n)): maxLength = Int32(n)
            default: maxLength = -1
            }
            // Beyond 8000 bytes as image (4-byte length): see the string case.
            let type = value.count > 8000 ? Int32(SYBIMAGE) : DBValueDecoder.ExtraType.bigVarBinary
            encoded = (type, maxLength, Int32(value.count), value)
        case .uuid(let value):
            // db-lib's dbrpcparam refuses SYBUNIQUE input values (it counts the type as fixed and
            // nullable at once); the canonical text travels instead and sp_executesql converts it to the
            // declared uniqueidentifier exactly.
            let bytes = Array(value.uuidString.utf8)
            encoded = (DBValueDecoder.ExtraType.nVarChar, -1, Int32(bytes.count), bytes)
        case .date(let value):
            // Same db-lib limitation for SYBMSDATE: a datetime2 at midnight carries the date exactly.
            encoded = Self.dateTimeAll(type: Int32(SYBMSDATETIME2), date: value, time: SQLTime(hour: 0, minute: 0, second: 0), offset: nil, scale: 0)
        case .time(let value):
            encoded = Self.dateTimeAll(type: Int32(SYBMSTIME), date: nil, time: value, offset: nil, scale: declared.fractionalScale)
        case .dateTime(let value):
            encoded = Self.dateTimeAll(type: Int32(SYBMSDATETIME2), date: value.date, time: value.time, offset: nil, scale: declared.fractionalScale)
        case .dateTimeOffset(let value):
            let utc = value.utc
            encoded = Self.dateTimeAll(type: Int32(SYBMSDATETIMEOFFSET), date: utc.date, time: utc.time, offset: value.offsetMinutes, scale: declared.fractionalScale)
        }
        self.type = encoded.type
        // db-lib accepts a max length only for output parameters (input: -1, the data length rules).
        // A NULL output of a nullable fixed-size type (INTN, FLTN, …) needs its size, or db-lib
        // would declare 255 bytes.
        if parameter.isOutput {
            let length = Self.outputMaxLength(type: encoded.type, declared: declared)
            self.maxLength = length != -1 || encoded.bytes != nil ? length : encoded.maxLength
        } else {
            self.maxLength = -1
        }
        self.dataLength = encoded.dataLength
        self.bytes = encoded.bytes
    }

    init(name: String?, isOutput: Bool, type: Int32, maxLength: Int32, dataLength: Int32, bytes: [UInt8]?) {
        self.name = name
        self.isOutput = isOutput
        self.type = type
        self.maxLength = maxLength
        self.dataLength = dataLength
        self.bytes = bytes
    }

    /// The buffer db-lib reserves for an output parameter: characters for `nvarchar` (db-lib doubles
    /// it), bytes otherwise; -1 (db-lib's default) for fixed-size types.
    static func outputMaxLength(type: Int32, declared: SQLServerDataType) -> Int32 {
        switch declared {
        case .nvarchar(.count(let n)), .nchar(let n), .varchar(.count(let n)), .char(let n), .binary(let n), .varbinary(.count(let n)):
            return Int32(n)
        case .nvarchar(.max), .ntext, .xml: return 4000
        case .varchar(.max), .varbinary(.max), .text, .image: return 8000
        default: return -1
        }
    }

    /// The wire type and max length of a string for a declared type: Unicode unless declared `varchar`.
    static func stringWireType(for declared: SQLServerDataType) -> (Int32, Int32) {
        switch declared {
        case .varchar(.count(let n)), .char(let n): return (DBValueDecoder.ExtraType.bigVarChar, Int32(n))
        case .varchar(.max), .text: return (DBValueDecoder.ExtraType.bigVarChar, -1)
        case .nvarchar(.count(let n)), .nchar(let n): return (DBValueDecoder.ExtraType.nVarChar, Int32(n * 2))
        default: return (DBValueDecoder.ExtraType.nVarChar, -1)
        }
    }

    /// The nullable wire type (and its length) that carries a NULL of the declared type.
    static func nullWireType(for declared: SQLServerDataType) -> (Int32, Int32) {
        switch declared {
        case .bit: return (Int32(SYBBITN), 1)
        case .tinyint: return (Int32(SYBINTN), 1)
        case .smallint: return (Int32(SYBINTN), 2)
        case .int: return (Int32(SYBINTN), 4)
        case .bigint: return (Int32(SYBINTN), 8)
        case .real: return (Int32(SYBFLTN), 4)
        case .float: return (Int32(SYBFLTN), 8)
        case .money: return (Int32(SYBMONEYN), 8)
        case .smallmoney: return (Int32(SYBMONEYN), 4)
        case .decimal, .numeric: return (Int32(SYBDECIMAL), Int32(MemoryLayout<DBNUMERIC>.size))
        case .datetime: return (Int32(SYBDATETIMN), 8)
        case .smalldatetime: return (Int32(SYBDATETIMN), 4)
        case .date: return (Int32(SYBMSDATETIME2), Int32(MemoryLayout<DBDATETIMEALL>.size))
        case .time: return (Int32(SYBMSTIME), Int32(MemoryLayout<DBDATETIMEALL>.size))
        case .datetime2: return (Int32(SYBMSDATETIME2), Int32(MemoryLayout<DBDATETIMEALL>.size))
        case .datetimeoffset: return (Int32(SYBMSDATETIMEOFFSET), Int32(MemoryLayout<DBDATETIMEALL>.size))
        case .uniqueidentifier: return (DBValueDecoder.ExtraType.nVarChar, 72)
        case .binary(let n), .varbinary(.count(let n)): return (DBValueDecoder.ExtraType.bigVarBinary, Int32(n))
        case .varbinary(.max), .image: return (DBValueDecoder.ExtraType.bigVarBinary, -1)
        default: return stringWireType(for: declared)
        }
    }

    /// `DBNUMERIC` bytes (precision, scale, sign, big-endian magnitude, zero padding) for `value` at
    /// exactly `precision`/`scale`; `nil` when it does not fit without rounding.
    static func numericBytes(_ value: SQLDecimal, precision: Int, scale: Int) -> [UInt8]? {
        guard (1...38).contains(precision), (0...precision).contains(scale),
              let scaled = value.rescaled(to: scale), scaled.precision <= precision || scaled.significand == 0
        else { return nil }
        var numeric = [UInt8](repeating: 0, count: MemoryLayout<DBNUMERIC>.size)
        numeric[0] = UInt8(precision)
        numeric[1] = UInt8(scale)
        numeric[2] = scaled.significand < 0 ? 1 : 0
        let count = DBValueDecoder.numericMagnitudeBytes(precision: precision)
        var magnitude = scaled.significand.magnitude
        for index in stride(from: 3 + count - 1, through: 3, by: -1) {
            numeric[index] = UInt8(truncatingIfNeeded: magnitude)
            magnitude >>= 8
        }
        return numeric
    }

    /// A GUID in SQL Server's byte order (first three fields little-endian).
    static func guidBytes(_ uuid: UUID) -> [UInt8] {
        let u = uuid.uuid
        return [u.3, u.2, u.1, u.0, u.5, u.4, u.7, u.6, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
    }

    static func dateTimeAll(type: Int32, date: SQLDate?, time: SQLTime?, offset: Int?, scale: Int) -> (Int32, Int32, Int32, [UInt8]?) {
        var value = DBDATETIMEALL()
        if let date {
            value.date = DBINT(date.daysSince1900)
            value.has_date = 1
        }
        if let time {
            value.time = DBUBIGINT(time.ticksSinceMidnight)
            value.has_time = 1
            value.time_prec = DBUSMALLINT(min(max(scale, 0), 7))
        }
        if let offset {
            value.offset = DBSMALLINT(offset)
            value.has_offset = 1
        }
        let bytes = withUnsafeBytes(of: value) { Array($0) }
        return (type, Int32(bytes.count), Int32(bytes.count), bytes)
    }
}

extension SQLServerDataType {
    /// Fractional-second digits of a time type (7 for anything else).
    var fractionalScale: Int {
        switch self {
        case .time(let s), .datetime2(let s), .datetimeoffset(let s): return s
        default: return 7
        }
    }
}
