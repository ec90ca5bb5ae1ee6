import Crypto
import SluiceCore

/// The deterministic id of a warehouse version: SHA-256 of `"<table>|<key>|<position sort key>"`.
/// The same event always yields the same id, so a replayed event finds its version already there.
public enum VersionID {
    public static func make(table: String, key: Int64, position: SourcePosition) -> [UInt8] {
        Array(SHA256.hash(data: Array("\(table)|\(key)|\(position.sortKey)".utf8)))
    }
}

extension SourcePosition {
    /// `sortKey` as the bytes stored in the warehouse's binary(58) position columns.
    public var warehouseBytes: [UInt8] { Array(sortKey.utf8) }

    /// Reads a position column back.
    public init?(warehouseBytes bytes: [UInt8]) {
        if let position = Self.fixedWidth(bytes) {
            self = position
            return
        }
        self.init(sortKey: String(decoding: bytes, as: UTF8.self))
    }

    /// The 58-byte `sortKey` read byte by byte (every current version and fact row of a batch is read
    /// back); nil for anything else (wider numbers, damage), which the text parser then decides.
    private static func fixedWidth(_ b: [UInt8]) -> SourcePosition? {
        guard b.count == 58, b[20] == 46, b[31] == 46, b[52] == 46 else { return nil }
        func hex(_ range: Range<Int>) -> UInt32? {
            var value: UInt32 = 0
            for i in range {
                switch b[i] {
                case 48...57: value = value << 4 | UInt32(b[i] - 48)
                case 97...102: value = value << 4 | UInt32(b[i] - 87)
                default: return nil
                }
            }
            return value
        }
        func decimal(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard (48...57).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        func dashes(_ range: Range<Int>) -> Bool { range.allSatisfy { b[$0] == 45 } }
        func lsn(_ start: Int) -> LSN? {
            guard let vlf = hex(start..<start + 8), let block = hex(start + 8..<start + 16), let slot = hex(start + 16..<start + 20)
            else { return nil }
            return LSN(vlf: vlf, block: block, slot: UInt16(slot))
        }
        guard let commit = lsn(0), let serial = decimal(53..<58) else { return nil }
        let command: Int?
        if dashes(21..<31) { command = nil } else if let c = decimal(21..<31) { command = c } else { return nil }
        let change: LSN?
        if dashes(32..<52) { change = nil } else if let c = lsn(32) { change = c } else { return nil }
        return SourcePosition(commitLSN: commit, commandID: command, changeLSN: change, eventSerialNo: serial)
    }
}
