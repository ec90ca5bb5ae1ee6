import SluiceCore
import SluiceSQLServer

/// What one batch does to a dimension, in the order it is applied: close the warehouse's current
/// versions that were superseded, insert the new versions (in position order), then overwrite type 1
/// columns and advance the current version's last position.
public struct DimensionPlan: Sendable, Hashable {
    /// A current version in the warehouse that a newer event supersedes.
    public struct Close: Sendable, Hashable {
        public var key: Int64
        public var versionID: [UInt8]
        public var validToMs: Int64
        public var lastPosition: SourcePosition

        public init(key: Int64, versionID: [UInt8], validToMs: Int64, lastPosition: SourcePosition) {
            self.key = key
            self.versionID = versionID
            self.validToMs = validToMs
            self.lastPosition = lastPosition
        }
    }

    /// Type 1 values of a key after the batch, and its newest applied position.
    public struct Type1Update: Sendable, Hashable {
        public var key: Int64
        public var type1: [SQLServerValue]
        public var lastPosition: SourcePosition
        /// The type 1 values changed: every version of the key is overwritten. Otherwise only the
        /// current version's last position moves.
        public var allVersions: Bool

        public init(key: Int64, type1: [SQLServerValue], lastPosition: SourcePosition, allVersions: Bool) {
            self.key = key
            self.type1 = type1
            self.lastPosition = lastPosition
            self.allVersions = allVersions
        }
    }

    /// An event not newer than what the warehouse (or this batch) already applied to its key.
    public struct Ignored: Sendable, Hashable {
        public var key: Int64
        public var position: SourcePosition
        public var lastApplied: SourcePosition

        public init(key: Int64, position: SourcePosition, lastApplied: SourcePosition) {
            self.key = key
            self.position = position
            self.lastApplied = lastApplied
        }
    }

    public var closes: [Close] = []
    public var inserts: [DimensionVersion] = []
    public var type1Updates: [Type1Update] = []
    public var ignored: [Ignored] = []
    /// Events whose effect is in the plan.
    public var applied = 0

    public init() {}

    /// Keys that get at least one new version (their facts may need another version key).
    public var keysWithNewVersions: [Int64] {
        var seen = Set<Int64>()
        return inserts.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
    }

    public var isEmpty: Bool { closes.isEmpty && inserts.isEmpty && type1Updates.isEmpty }
}
