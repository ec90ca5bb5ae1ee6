/// One row change as Sluice publishes it: Debezium's envelope for the SQL Server connector.
///
/// Column values are already in their JSON representation (see README "Types"): the source maps each
/// SQL Server value once, the sinks read the same representation back.
public struct ChangeEvent: Hashable, Sendable {
    public enum Operation: String, Hashable, Sendable {
        case create = "c"
        case update = "u"
        case delete = "d"
        /// A snapshot read.
        case read = "r"
    }

    /// Where in a snapshot an `r` event stands: Debezium's `source.snapshot` values.
    public enum SnapshotMarker: String, Hashable, Sendable {
        case `false`, `true`, first, last, incremental
    }

    public var op: Operation
    public var table: TableID
    /// The primary-key (or `message.key.columns`) values, in key-column order.
    public var key: JSONObject
    public var before: JSONObject?
    public var after: JSONObject?
    public var position: SourcePosition
    /// The source commit time (from `cdc.lsn_time_mapping`, converted with the server's UTC offset), ms since epoch.
    public var commitTimeMs: Int64
    public var snapshot: SnapshotMarker
    /// When Sluice processed the event, ms since epoch.
    public var processedAtMs: Int64
    public var transaction: TransactionInfo?

    public init(op: Operation, table: TableID, key: JSONObject, before: JSONObject?, after: JSONObject?,
                position: SourcePosition, commitTimeMs: Int64, snapshot: SnapshotMarker = .false,
                processedAtMs: Int64, transaction: TransactionInfo? = nil) {
        self.op = op
        self.table = table
        self.key = key
        self.before = before
        self.after = after
        self.position = position
        self.commitTimeMs = commitTimeMs
        self.snapshot = snapshot
        self.processedAtMs = processedAtMs
        self.transaction = transaction
    }
}

/// Debezium's `transaction` block of an event (`provide.transaction.metadata=true`).
public struct TransactionInfo: Hashable, Sendable {
    /// The transaction's id: its commit LSN in text form.
    public var id: String
    /// The event's position among all events of the transaction, from 1.
    public var totalOrder: Int
    /// The event's position among the transaction's events of the same table, from 1.
    public var dataCollectionOrder: Int

    public init(id: String, totalOrder: Int, dataCollectionOrder: Int) {
        self.id = id
        self.totalOrder = totalOrder
        self.dataCollectionOrder = dataCollectionOrder
    }
}
