import CFreeTDS
import Foundation

/// Turns db-lib's column buffers (`dbdata`, `dbretdata`) into ``SQLServerValue``s, exactly: decimals
/// from `DBNUMERIC` bytes, money from its 64-bit integer, date/time types from `DBDATETIMEALL`
/// (100 ns, offset kept).
enum DBValueDecoder {
    /// SQL Server type codes db-lib uses but does not name in `sybdb.h`.
    enum ExtraType {
        static let uniqueidentifier: Int32 = 36   // SYBUNIQUE
        static let bigVarBinary: Int32 = 165      // XSYBVARBINARY
        static let bigBinary: Int32 = 173         // XSYBBINARY
        static let bigVarChar: Int32 = 167        // XSYBVARCHAR
        static let bigChar: Int32 = 175           // XSYBCHAR
        static let nVarChar: Int32 = 231          // XSYBNVARCHAR
        static let nChar: Int32 = 239             // XSYBNCHAR
        static let xml: Int32 = 241               // SYBMSXML
    }

    static func decode(type: Int32, data: UnsafeRawPointer?, length: Int) -> SQLServerValue {
        guard let data else { return .null }
        switch type {
        case Int32(SYBBIT), Int32(SYBBITN):
            return .bit(data.load(as: UInt8.self) != 0)
        case Int32(SYBINT1):
            return .tinyint(data.load(as: UInt8.self))
        case Int32(SYBINT2):
            return .smallint(data.loadUnaligned(as: Int16.self))
        case Int32(SYBINT4):
            return .int(data.loadUnaligned(as: Int32.self))
        case Int32(SYBINT8):
            return .bigint(data.loadUnaligned(as: Int64.self))
        case Int32(SYBINTN):
            switch length {
            case 1: return .tinyint(data.load(as: UInt8.self))
            case 2: return .smallint(data.loadUnaligned(as: Int16.self))
            case 4: return .int(data.loadUnaligned(as: Int32.self))
            default: return .bigint(data.loadUnaligned(as: Int64.self))
            }
        case Int32(SYBREAL):
            return .real(data.loadUnaligned(as: Float.self))
        case Int32(SYBFLT8):
            return .float(data.loadUnaligned(as: Double.self))
        case Int32(SYBFLTN):
            return length == 4 ? .real(data.loadUnaligned(as: Float.self)) : .float(data.loadUnaligned(as: Double.self))
        case Int32(SYBMONEY):
            return .money(money(data))
        case Int32(SYBMONEY4):
            return .money(SQLDecimal(significand: Int128(data.loadUnaligned(as: Int32.self)), scale: 4)!)
        case Int32(SYBMONEYN):
            return length == 4
                ? .money(SQLDecimal(significand: Int128(data.loadUnaligned(as: Int32.self)), scale: 4)!)
                : .money(money(data))
        case Int32(SYBDECIMAL), Int32(SYBNUMERIC):
            let bytes = UnsafeRawBufferPointer(start: data, count: MemoryLayout<DBNUMERIC>.size)
            return decimal(numericBytes: Array(bytes)).map { .decimal($0) } ?? .null
        case Int32(SYBCHAR), Int32(SYBVARCHAR), Int32(SYBTEXT), Int32(SYBNTEXT), Int32(SYBNVARCHAR),
             ExtraType.bigVarChar, ExtraType.bigChar, ExtraType.nVarChar, ExtraType.nChar, ExtraType.xml:
            return .string(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
        case Int32(SYBBINARY), Int32(SYBVARBINARY), Int32(SYBIMAGE), ExtraType.bigBinary, ExtraType.bigVarBinary:
            return .bytes(Array(UnsafeRawBufferPointer(start: data, count: length)))
        case ExtraType.uniqueidentifier:
            return .uuid(uuid(guidBytes: Array(UnsafeRawBufferPointer(start: data, count: 16))))
        case Int32(SYBDATETIME):
            let days = data.loadUnaligned(as: Int32.self)
            let ticks = data.loadUnaligned(fromByteOffset: 4, as: Int32.self)
            return .dateTime(dateTime(days: Int(days), ticks300: Int(ticks)))
        case Int32(SYBDATETIME4):
            let days = data.loadUnaligned(as: UInt16.self)
            let minutes = data.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
            return .dateTime(SQLDateTime(date: SQLDate(daysSince1900: Int(days)),
                                         time: SQLTime(hour: Int(minutes) / 60, minute: Int(minutes) % 60, second: 0)))
        case Int32(SYBDATETIMN):
            if length == 4 { return decode(type: Int32(SYBDATETIME4), data: data, length: 4) }
            return decode(type: Int32(SYBDATETIME), data: data, length: 8)
        case Int32(SYBMSDATE), Int32(SYBMSTIME), Int32(SYBMSDATETIME2), Int32(SYBMSDATETIMEOFFSET):
            let value = data.loadUnaligned(as: DBDATETIMEALL.self)
            return dateTimeAll(type: type, date: Int(value.date), time: UInt64(value.time), offset: Int(value.offset))
        default:
            // sql_variant and other types this client does not model: their text form.
            return .string(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
        }
    }

    /// `DBMONEY`: a 64-bit integer of 1/10000 units, stored high 32 bits first.
    static func money(_ data: UnsafeRawPointer) -> SQLDecimal {
        let high = Int64(data.loadUnaligned(as: Int32.self))
        let low = Int64(data.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        return SQLDecimal(significand: Int128(high << 32 | low), scale: 4)!
    }

    /// `DBNUMERIC`: precision, scale, then `array`: a sign byte (1 = negative) followed by the
    /// magnitude, big-endian, in as many bytes as the precision needs.
    static func decimal(numericBytes bytes: [UInt8]) -> SQLDecimal? {
        guard bytes.count >= 3 else { return nil }
        let precision = Int(bytes[0])
        let scale = Int(bytes[1])
        let negative = bytes[2] == 1
        let count = numericMagnitudeBytes(precision: precision)
        guard bytes.count >= 3 + count else { return nil }
        var magnitude: Int128 = 0
        for byte in bytes[3..<(3 + count)] {
            magnitude = magnitude << 8 | Int128(byte)
        }
        return SQLDecimal(significand: negative ? -magnitude : magnitude, scale: scale)
    }

    /// Bytes of a `DBNUMERIC` magnitude for a precision: enough bits for 10^p − 1.
    static func numericMagnitudeBytes(precision: Int) -> Int {
        guard precision > 0 else { return 1 }
        var maxValue: Int128 = 1
        for _ in 0..<min(precision, 38) { maxValue *= 10 }
        maxValue -= 1
        let bits = Int128.bitWidth - maxValue.leadingZeroBitCount
        return (bits + 7) / 8
    }

    /// A GUID as SQL Server stores it: the first three fields little-endian, the rest as is.
    static func uuid(guidBytes b: [UInt8]) -> UUID {
        UUID(uuid: (b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    /// `datetime`: days since 1900-01-01 and 1/300 s since midnight, shown (like SQL Server) rounded to
    /// the millisecond: .000, .003, .007.
    static func dateTime(days: Int, ticks300: Int) -> SQLDateTime {
        let milliseconds = (ticks300 * 10 + 1) / 3
        let seconds = milliseconds / 1000
        return SQLDateTime(
            date: SQLDate(daysSince1900: days),
            time: SQLTime(hour: seconds / 3600, minute: seconds / 60 % 60, second: seconds % 60, nanosecond: milliseconds % 1000 * 1_000_000))
    }

    /// `DBDATETIMEALL`: days since 1900-01-01, 100 ns ticks since midnight, offset in minutes; for
    /// `datetimeoffset` the date and time are UTC.
    static func dateTimeAll(type: Int32, date: Int, time: UInt64, offset: Int) -> SQLServerValue {
        let day = SQLDate(daysSince1900: date)
        let clock = SQLTime(ticksSinceMidnight: time)
        switch type {
        case Int32(SYBMSDATE): return .date(day)
        case Int32(SYBMSTIME): return .time(clock)
        case Int32(SYBMSDATETIME2): return .dateTime(SQLDateTime(date: day, time: clock))
        default: return .dateTimeOffset(SQLDateTimeOffset(utc: SQLDateTime(date: day, time: clock), offsetMinutes: offset))
        }
    }

    // MARK: Column metadata

    static func column(_ process: OpaquePointer, _ index: Int32) -> SQLServerColumn {
        var info = DBCOL2()
        info.SizeOfStruct = DBINT(MemoryLayout<DBCOL2>.stride) // C sizeof, trailing padding included
        let ok = withUnsafeMutablePointer(to: &info) { pointer in
            dbcolinfo(process, CI_REGULAR, DBINT(index), 0, UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: DBCOL.self))
        }
        let name = dbcolname(process, index).map { String(cString: $0) } ?? ""
        guard ok == SUCCEED else {
            return SQLServerColumn(name: name, type: .other("unknown"), maxLength: Int(dbcollen(process, index)),
                                   precision: 0, scale: 0, isNullable: true)
        }
        let declaration = withUnsafeBytes(of: info.ServerTypeDeclaration) { buffer in
            String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
        var type = SQLServerDataType(declaration: declaration)
        if case .other = type, declaration.isEmpty {
            type = fallbackType(serverType: Int32(info.ServerType), coltype: dbcoltype(process, index), info: info)
        }
        let maxLength: Int
        switch type {
        case .varchar(.max), .nvarchar(.max), .varbinary(.max), .xml: maxLength = -1
        default: maxLength = info.ServerMaxLength != 0 ? Int(info.ServerMaxLength) : Int(info.MaxLength)
        }
        return SQLServerColumn(
            name: name,
            type: type,
            maxLength: maxLength,
            precision: Int(info.Precision),
            scale: Int(info.Scale),
            isNullable: info.Null != 0,
            isIdentity: info.Identity != 0)
    }

    private static func fallbackType(serverType: Int32, coltype: Int32, info: DBCOL2) -> SQLServerDataType {
        switch coltype {
        case Int32(SYBBIT): return .bit
        case Int32(SYBINT1): return .tinyint
        case Int32(SYBINT2): return .smallint
        case Int32(SYBINT4): return .int
        case Int32(SYBINT8): return .bigint
        case Int32(SYBREAL): return .real
        case Int32(SYBFLT8): return .float
        case Int32(SYBMONEY): return .money
        case Int32(SYBMONEY4): return .smallmoney
        case Int32(SYBDECIMAL): return .decimal(precision: Int(info.Precision), scale: Int(info.Scale))
        case Int32(SYBNUMERIC): return .numeric(precision: Int(info.Precision), scale: Int(info.Scale))
        case Int32(SYBDATETIME): return .datetime
        case Int32(SYBDATETIME4): return .smalldatetime
        case Int32(SYBMSDATE): return .date
        case Int32(SYBMSTIME): return .time(scale: Int(info.Scale))
        case Int32(SYBMSDATETIME2): return .datetime2(scale: Int(info.Scale))
        case Int32(SYBMSDATETIMEOFFSET): return .datetimeoffset(scale: Int(info.Scale))
        case ExtraType.uniqueidentifier: return .uniqueidentifier
        // FreeTDS 1.3's dbcolinfo leaves DBCOL2's server type empty and dbcoltype folds every
        // character type into SYBCHAR and every binary type into SYBBINARY: the declared type
        // (n/var/max) is not visible through db-lib here.
        case Int32(SYBCHAR), Int32(SYBVARCHAR), Int32(SYBTEXT), Int32(SYBNTEXT): return .other("character")
        case Int32(SYBBINARY), Int32(SYBVARBINARY), Int32(SYBIMAGE): return .other("binary")
        default: return .other("db-lib type \(coltype)")
        }
    }
}
