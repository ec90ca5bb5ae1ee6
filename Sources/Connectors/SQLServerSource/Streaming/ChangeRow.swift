import SluiceCore

/// One row of `cdc.fn_cdc_get_all_changes_<capture_instance>(@from, @to, N'all update old')`, its captured
/// columns already in their JSON representation.
public struct ChangeRow: Hashable, Sendable {
    /// `__$operation`.
    public enum Operation: Int, Hashable, Sendable {
        case delete = 1
        case insert = 2
        case updateBefore = 3
        case updateAfter = 4
    }

    public var captureInstance: String
    public var table: TableID
    /// `__$start_lsn`: the commit LSN of the row's transaction.
    public var startLSN: LSN
    /// `__$seqval`.
    public var seqval: LSN
    public var operation: Operation
    /// `__$command_id`.
    public var commandID: Int
    public var values: JSONObject

    public init(captureInstance: String, table: TableID, startLSN: LSN, seqval: LSN, operation: Operation,
                commandID: Int, values: JSONObject) {
        self.captureInstance = captureInstance
        self.table = table
        self.startLSN = startLSN
        self.seqval = seqval
        self.operation = operation
        self.commandID = commandID
        self.values = values
    }

    /// The order in which Sluice emits rows: commit LSN, then `__$command_id` (Microsoft's documented order
    /// of operations inside a transaction), then `__$seqval`, then the operation (3 before 4), then the
    /// capture instance so rows of different tables that tie are still in one deterministic order.
    public static func emissionOrder(_ a: ChangeRow, _ b: ChangeRow) -> Bool {
        if a.startLSN != b.startLSN { return a.startLSN < b.startLSN }
        if a.commandID != b.commandID { return a.commandID < b.commandID }
        if a.seqval != b.seqval { return a.seqval < b.seqval }
        if a.operation != b.operation { return a.operation.rawValue < b.operation.rawValue }
        return a.captureInstance < b.captureInstance
    }
}
