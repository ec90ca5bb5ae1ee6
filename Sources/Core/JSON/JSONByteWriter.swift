/// Appends JSON text straight to a byte array: the encoders of hot paths (every change event) write
/// their fixed parts as static strings and their values with these, without an intermediate `JSONValue`.
public enum JSONByteWriter {
    @inline(__always)
    public static func raw(_ text: StaticString, into out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A JSON string with its quotes, escaped as `JSONValue.serialized()` escapes it.
    @inline(__always)
    public static func string(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            // Nearly every string needs no escape: copy it in one go.
            var clean = true
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                clean = false
                break
            }
            if clean {
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: bytes)
                out.append(UInt8(ascii: "\""))
            } else {
                JSONValue.writeEscapedString(bytes, into: &out)
            }
        }
    }

    /// A decimal integer.
    @inline(__always)
    public static func int(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 {
            guard value != .min else { out.append(contentsOf: String(value).utf8); return }
            out.append(UInt8(ascii: "-"))
            unsigned(UInt64(-value), into: &out)
        } else {
            unsigned(UInt64(value), into: &out)
        }
    }

    @inline(__always)
    public static func int(_ value: Int, into out: inout [UInt8]) { int(Int64(value), into: &out) }

    static func unsigned(_ value: UInt64, into out: inout [UInt8]) {
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && value >= scale { digits += 1; scale &*= 10 }
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var v = value
        out.withUnsafeMutableBufferPointer { buffer in
            var i = start + digits - 1
            while v > 0 {
                buffer[i] = UInt8(48 + v % 10)
                v /= 10
                i -= 1
            }
        }
    }

    /// An LSN in Debezium's text form with its quotes, `"0000002a:00000d18:0003"`.
    public static func lsn(_ lsn: LSN, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        hex(UInt64(lsn.vlf), digits: 8, into: &out)
        out.append(UInt8(ascii: ":"))
        hex(UInt64(lsn.block), digits: 8, into: &out)
        out.append(UInt8(ascii: ":"))
        hex(UInt64(lsn.slot), digits: 4, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    static func hex(_ value: UInt64, digits: Int, into out: inout [UInt8]) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let nibble = UInt8((value >> UInt64(shift)) & 0xF)
            out.append(nibble < 10 ? 48 + nibble : 87 + nibble)
            shift -= 4
        }
    }
}
