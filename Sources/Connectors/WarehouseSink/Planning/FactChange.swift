import SluiceCore
import SluiceSQLServer

/// One source change of a fact's row, with its values already in warehouse form.
public struct FactChange: Sendable, Hashable {
    public var key: Int64
    public var isDelete: Bool
    public var position: SourcePosition
    public var commitTimeMs: Int64
    /// In the order of the fact's source columns (`WarehouseModel.applicationFactColumns`, …).
    public var values: [SQLServerValue]

    public init(key: Int64, isDelete: Bool, position: SourcePosition, commitTimeMs: Int64, values: [SQLServerValue]) {
        self.key = key
        self.isDelete = isDelete
        self.position = position
        self.commitTimeMs = commitTimeMs
        self.values = values
    }
}
