import SluiceCore
import SluiceSQLServer

/// What one batch does to a fact table: one upsert per row key, with the newest applied event's values.
public struct FactPlan: Sendable, Hashable {
    public struct Row: Sendable, Hashable {
        public var key: Int64
        public var values: [SQLServerValue]
        /// A source delete keeps the fact row, marked deleted, with the row's last values.
        public var isDeleted: Bool
        /// For a new row: the commit time of its first applied event (the row's place on the time axis).
        /// An existing row keeps the one it has.
        public var recordedAtMs: Int64
        public var lastPosition: SourcePosition
    }

    public var upserts: [Row] = []
    public var ignored: [DimensionPlan.Ignored] = []
    public var applied = 0

    public init() {}
}
