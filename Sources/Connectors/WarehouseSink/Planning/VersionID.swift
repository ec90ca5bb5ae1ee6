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
        self.init(sortKey: String(decoding: bytes, as: UTF8.self))
    }
}
