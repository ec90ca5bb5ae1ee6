#if canImport(Glibc)
import Glibc
#endif

/// Reading a document of a known shape field by field, without building the `JSONValue` of the parts
/// the reader only looks at (keys compared as bytes, integers and plain strings read in place).
///
/// Every method returns nil for what it does not read (an escaped key or string, a number with a
/// fraction or out of `Int64`, another kind of value); the parser's position is then unspecified and
/// the caller gives up on the fast path and parses the document whole. Only well-formed JSON is read:
/// what is skipped is parsed (`parseValue`) and dropped.
extension JSONParser {
    /// `{` then whitespace: true when the object has fields, false for `{}` (consumed), nil for no object.
    mutating func beginObject() -> Bool? {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return false
        }
        return true
    }

    /// After a field's value: true when another field follows (`,` consumed), false at the object's end
    /// (`}` consumed), nil for anything else.
    mutating func nextField() -> Bool? {
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: ","): index += 1; return true
        case UInt8(ascii: "}"): index += 1; return false
        default: return nil
        }
    }

    /// A field's key without escapes, as its bytes' range, with the `:` after it consumed.
    mutating func rawKey() -> Range<Int>? {
        skipWhitespace()
        guard let key = rawString() else { return nil }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        skipWhitespace()
        return key
    }

    /// Whether the bytes at `range` are `text`.
    func bytes(_ range: Range<Int>, are text: StaticString) -> Bool {
        range.count == text.utf8CodeUnitCount
            && memcmp(bytes.baseAddress! + range.lowerBound, text.utf8Start, range.count) == 0
    }

    /// Whether the key at `range` is `name`, the `bit`-th field of an object, met for the first time
    /// (`seen` records the fields met; a duplicate is then not claimed, so the first one wins).
    func claim(_ range: Range<Int>, _ name: StaticString, bit: Int, seen: inout UInt16) -> Bool {
        guard seen & (1 << bit) == 0, bytes(range, are: name) else { return false }
        seen |= 1 << bit
        return true
    }

    /// A string value without escapes or control characters, as the range of its bytes (quotes excluded).
    mutating func rawString() -> Range<Int>? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var i = start
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                index = i + 1
                return start..<i
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            i += 1
        }
        return nil
    }

    /// The text of a string value without escapes (`rawString`), decoded as UTF-8 (invalid bytes become
    /// U+FFFD, as `parseString` does).
    mutating func plainString() -> String? {
        guard let range = rawString() else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// An integer number (`-`? digits, no fraction or exponent) that fits `Int64`.
    mutating func int64() -> Int64? {
        var i = index
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let digitsStart = i
        var magnitude: UInt64 = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            magnitude = sum
            i += 1
        }
        let digits = i - digitsStart
        // JSON allows no leading zero; a fraction or exponent is not an integer here.
        guard digits > 0, digits == 1 || bytes[digitsStart] != UInt8(ascii: "0") else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            return nil
        }
        let value: Int64
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            value = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        } else {
            guard magnitude <= UInt64(Int64.max) else { return nil }
            value = Int64(magnitude)
        }
        index = i
        return value
    }

    /// `null` (consumed) or not (nothing consumed).
    mutating func null() -> Bool {
        guard index + 4 <= bytes.count, bytes[index] == UInt8(ascii: "n"), bytes[index + 1] == UInt8(ascii: "u"),
              bytes[index + 2] == UInt8(ascii: "l"), bytes[index + 3] == UInt8(ascii: "l") else { return false }
        index += 4
        return true
    }

    /// Whether only whitespace is left.
    mutating func atEnd() -> Bool {
        skipWhitespace()
        return index == bytes.count
    }
}
