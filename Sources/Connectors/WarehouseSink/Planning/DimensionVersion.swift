import SluiceCore
import SluiceSQLServer

/// One version row of a dimension (as read from the warehouse, or planned).
public struct DimensionVersion: Sendable, Hashable {
    /// The IDENTITY surrogate key; nil for a version planned in this batch.
    public var surrogateKey: Int64?
    public var versionID: [UInt8]
    public var key: Int64
    public var tracked: [SQLServerValue]
    public var type1: [SQLServerValue]
    public var validFromMs: Int64
    /// nil on the current version.
    public var validToMs: Int64?
    public var isDeleted: Bool
    /// The event that created the version.
    public var sourcePosition: SourcePosition
    /// The newest event applied to the version: on the current version the newest event of the key,
    /// on a closed version the event that closed it.
    public var lastPosition: SourcePosition

    public init(surrogateKey: Int64?, versionID: [UInt8], key: Int64, tracked: [SQLServerValue], type1: [SQLServerValue],
                validFromMs: Int64, validToMs: Int64?, isDeleted: Bool, sourcePosition: SourcePosition, lastPosition: SourcePosition) {
        self.surrogateKey = surrogateKey
        self.versionID = versionID
        self.key = key
        self.tracked = tracked
        self.type1 = type1
        self.validFromMs = validFromMs
        self.validToMs = validToMs
        self.isDeleted = isDeleted
        self.sourcePosition = sourcePosition
        self.lastPosition = lastPosition
    }

    public var isCurrent: Bool { validToMs == nil }
}
