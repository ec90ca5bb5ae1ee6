import SluiceCore
import SluiceSQLServer

/// One source change of a dimension's key, with its attribute values already in warehouse form.
public struct DimensionChange: Sendable, Hashable {
    public var key: Int64
    /// A delete closes the history with a deleted version; c, u and r carry the new row.
    public var isDelete: Bool
    public var position: SourcePosition
    /// The source commit time, ms since the epoch (UTC).
    public var commitTimeMs: Int64
    /// In the order of `DimensionModel.tracked`.
    public var tracked: [SQLServerValue]
    /// In the order of `DimensionModel.type1`.
    public var type1: [SQLServerValue]

    public init(key: Int64, isDelete: Bool, position: SourcePosition, commitTimeMs: Int64,
                tracked: [SQLServerValue], type1: [SQLServerValue]) {
        self.key = key
        self.isDelete = isDelete
        self.position = position
        self.commitTimeMs = commitTimeMs
        self.tracked = tracked
        self.type1 = type1
    }
}
