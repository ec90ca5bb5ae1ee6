import SluiceCore
import SluiceSQLServer

/// The one mapping from a captured row to a change event, shared by the snapshot reader (table rows,
/// `r`) and the stream (change-table rows, `c`/`u`/`d` through `ChangeEventAssembler`):
/// - `values` maps a result row's captured columns to their JSON representation (`ValueMapper`);
/// - `key` takes the message-key columns out of those values, in key-column order;
/// - `event` builds the envelope's content from them.
public struct ChangeEventMapping: Sendable {
    public let mapper: ValueMapper

    public init(mapper: ValueMapper) { self.mapper = mapper }

    /// The values of `columns`, read from `row` starting at result column `firstColumn`.
    public func values(_ row: SQLServerRow, columns: [CapturedColumn], firstColumn: Int = 0) throws(ValueMapper.MappingError) -> JSONObject {
        // A capture instance's column names are distinct: the fields are appended, not looked up one by one.
        var fields: [(key: String, value: JSONValue)] = []
        fields.reserveCapacity(columns.count)
        for (i, column) in columns.enumerated() {
            fields.append((key: column.name, value: try mapper.json(row[firstColumn + i], column: column)))
        }
        return JSONObject(fields)
    }

    /// The message key: `keyColumns` of `values`, in that order (null for a missing one).
    public static func key(_ values: JSONObject, keyColumns: [String]) -> JSONObject {
        JSONObject(keyColumns.map { (key: $0, value: values[$0] ?? .null) })
    }

    /// A change event of `table`; the key comes from the after image (the before image for a delete).
    public static func event(_ op: ChangeEvent.Operation, table: TableID, keyColumns: [String],
                             before: JSONObject?, after: JSONObject?, position: SourcePosition, commitTimeMs: Int64,
                             snapshot: ChangeEvent.SnapshotMarker = .false, processedAtMs: Int64,
                             transaction: TransactionInfo? = nil) -> ChangeEvent {
        ChangeEvent(op: op, table: table, key: key(after ?? before ?? [:], keyColumns: keyColumns), before: before, after: after,
                    position: position, commitTimeMs: commitTimeMs, snapshot: snapshot, processedAtMs: processedAtMs,
                    transaction: transaction)
    }

    /// A snapshot read (`r`) of one table row.
    public static func read(_ values: JSONObject, instance: CaptureInstance, position: SourcePosition, commitTimeMs: Int64,
                            snapshot: ChangeEvent.SnapshotMarker, processedAtMs: Int64) -> ChangeEvent {
        event(.read, table: instance.table, keyColumns: instance.keyColumns, before: nil, after: values, position: position,
              commitTimeMs: commitTimeMs, snapshot: snapshot, processedAtMs: processedAtMs)
    }
}
