/// A SQL Server log sequence number: `binary(10)` made of a 4-byte virtual-log-file sequence, a 4-byte
/// log-block offset and a 2-byte slot, compared as unsigned big-endian bytes.
///
/// Prints as Debezium does, `0000002a:00000d18:0003`.
public struct LSN: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let vlf: UInt32
    public let block: UInt32
    public let slot: UInt16

    public init(vlf: UInt32, block: UInt32, slot: UInt16) {
        self.vlf = vlf
        self.block = block
        self.slot = slot
    }

    /// `0000002a:00000d18:0003` read byte by byte; nil for anything else (the slow path then decides).
    static func parseTextForm(_ bytes: UnsafeBufferPointer<UInt8>) -> LSN? {
        guard bytes.count == 22, bytes[8] == UInt8(ascii: ":"), bytes[17] == UInt8(ascii: ":") else { return nil }
        func hex(_ range: Range<Int>) -> UInt32? {
            var value: UInt32 = 0
            for i in range {
                let b = bytes[i]
                let digit: UInt8
                switch b {
                case 48...57: digit = b - 48
                case 97...102: digit = b - 87
                case 65...70: digit = b - 55
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        guard let v = hex(0..<8), let b = hex(9..<17), let s = hex(18..<22) else { return nil }
        return LSN(vlf: v, block: b, slot: UInt16(s))
    }

    /// The smallest LSN; SQL Server's `0x00000000000000000000`.
    public static let zero = LSN(vlf: 0, block: 0, slot: 0)

    /// Reads the 10 bytes SQL Server returns for a `binary(10)` LSN column.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 10 else { return nil }
        let b = Array(bytes)
        self.vlf = b[0..<4].reduce(0) { $0 << 8 | UInt32($1) }
        self.block = b[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
        self.slot = b[8..<10].reduce(0) { $0 << 8 | UInt16($1) }
    }

    /// Parses Debezium's text form `0000002a:00000d18:0003` or a 20-digit hex string (optionally `0x`-prefixed).
    public init?(_ text: String) {
        // Fast path for the text form (every event carries two): hex digits read straight from the bytes.
        var utf8 = text
        if let lsn = utf8.withUTF8({ Self.parseTextForm($0) }) {
            self = lsn
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 3, parts[0].count == 8, parts[1].count == 8, parts[2].count == 4,
           let v = UInt32(parts[0], radix: 16), let b = UInt32(parts[1], radix: 16), let s = UInt16(parts[2], radix: 16) {
            self.init(vlf: v, block: b, slot: s)
            return
        }
        var hex = Substring(text)
        if hex.hasPrefix("0x") || hex.hasPrefix("0X") { hex = hex.dropFirst(2) }
        guard hex.count == 20, let v = UInt32(hex.prefix(8), radix: 16),
              let b = UInt32(hex.dropFirst(8).prefix(8), radix: 16), let s = UInt16(hex.suffix(4), radix: 16)
        else { return nil }
        self.init(vlf: v, block: b, slot: s)
    }

    /// The 10 bytes to send back to SQL Server as a `binary(10)` parameter.
    public var bytes: [UInt8] {
        [UInt8(vlf >> 24), UInt8(vlf >> 16 & 0xff), UInt8(vlf >> 8 & 0xff), UInt8(vlf & 0xff),
         UInt8(block >> 24), UInt8(block >> 16 & 0xff), UInt8(block >> 8 & 0xff), UInt8(block & 0xff),
         UInt8(slot >> 8), UInt8(slot & 0xff)]
    }

    public var description: String {
        hex(vlf, width: 8) + ":" + hex(block, width: 8) + ":" + hex(UInt32(slot), width: 4)
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool {
        (lhs.vlf, lhs.block, lhs.slot) < (rhs.vlf, rhs.block, rhs.slot)
    }
}

private func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
