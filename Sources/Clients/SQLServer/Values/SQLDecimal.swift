import Foundation

/// An exact decimal number as SQL Server's `decimal(p, s)`, `numeric` and `money` hold it:
/// `significand × 10^-scale`, up to 38 digits. It never goes through `Double`.
///
/// `SQLDecimal("-12.340")` keeps its scale (3); equality is numeric (`1.5 == 1.50`).
public struct SQLDecimal: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The digits as an integer: `12.340` is `12340` with scale 3.
    public let significand: Int128
    /// Digits after the decimal point (0...38).
    public let scale: Int

    /// SQL Server's largest precision.
    public static let maxPrecision = 38
    static let maxMagnitude: Int128 = {
        var value: Int128 = 1
        for _ in 0..<38 { value *= 10 }
        return value - 1
    }()

    /// Fails when the value has more than 38 digits or the scale is outside 0...38.
    public init?(significand: Int128, scale: Int) {
        guard (0...Self.maxPrecision).contains(scale), significand.magnitude <= Self.maxMagnitude.magnitude else { return nil }
        self.significand = significand
        self.scale = scale
    }

    public init(_ value: Int64) {
        self.significand = Int128(value)
        self.scale = 0
    }

    /// Parses `-123.4500`, `+1`, `.5`, `1e3` is rejected. Keeps the written scale.
    public init?(_ text: String) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        var value: Int128 = 0
        var scale = 0
        var digits = 0
        var seenPoint = false
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint else { return nil }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            if digits > 0 || byte != UInt8(ascii: "0") { digits += 1 }
            guard digits <= Self.maxPrecision else { return nil }
            value = value * 10 + Int128(byte - UInt8(ascii: "0"))
            if seenPoint { scale += 1 }
        }
        guard !utf8.isEmpty, utf8.contains(where: { $0 != UInt8(ascii: ".") }), scale <= Self.maxPrecision else { return nil }
        self.init(significand: negative ? -value : value, scale: scale)
    }

    /// Converts a Foundation `Decimal` exactly (fails beyond 38 digits).
    public init?(_ decimal: Decimal) {
        self.init(decimal.description)
    }

    /// The number of significant digits (at least `scale`, at least 1), i.e. the smallest `p` of a
    /// `decimal(p, scale)` that holds the value.
    public var precision: Int {
        var digits = 0
        var rest = significand.magnitude
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return max(digits, scale, 1)
    }

    /// The value with `newScale` digits after the point, if it fits without losing digits.
    public func rescaled(to newScale: Int) -> SQLDecimal? {
        if newScale == scale { return self }
        if newScale > scale {
            var value = significand
            for _ in scale..<newScale {
                let (next, overflow) = value.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                value = next
            }
            return SQLDecimal(significand: value, scale: newScale)
        }
        var value = significand
        for _ in newScale..<scale {
            guard value % 10 == 0 else { return nil }
            value /= 10
        }
        return SQLDecimal(significand: value, scale: newScale)
    }

    /// `-12.340`: all `scale` digits are printed.
    public var description: String {
        let digits = String(significand.magnitude)
        let sign = significand < 0 ? "-" : ""
        guard scale > 0 else { return sign + digits }
        let padded = digits.count <= scale ? String(repeating: "0", count: scale - digits.count + 1) + digits : digits
        let split = padded.index(padded.endIndex, offsetBy: -scale)
        return sign + padded[..<split] + "." + padded[split...]
    }

    /// The value as a Foundation `Decimal` (exact: 38 digits fit its mantissa).
    public var decimalValue: Decimal {
        Decimal(string: description, locale: Locale(identifier: "en_US_POSIX"))!
    }

    private static func aligned(_ lhs: SQLDecimal, _ rhs: SQLDecimal) -> (Int128, Int128)? {
        let scale = max(lhs.scale, rhs.scale)
        guard let left = lhs.rescaled(to: scale), let right = rhs.rescaled(to: scale) else { return nil }
        return (left.significand, right.significand)
    }

    public static func == (lhs: SQLDecimal, rhs: SQLDecimal) -> Bool {
        guard let (left, right) = aligned(lhs, rhs) else { return false }
        return left == right
    }

    public static func < (lhs: SQLDecimal, rhs: SQLDecimal) -> Bool {
        if let (left, right) = aligned(lhs, rhs) { return left < right }
        // Cannot align without overflow: compare through the exact string-based Decimal.
        return lhs.decimalValue < rhs.decimalValue
    }

    public func hash(into hasher: inout Hasher) {
        // Hash the normalized value so that equal numbers hash alike.
        var value = significand
        var scale = self.scale
        while scale > 0, value % 10 == 0 {
            value /= 10
            scale -= 1
        }
        hasher.combine(value)
        hasher.combine(scale)
    }
}

extension SQLDecimal: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self.init(value) }
}
