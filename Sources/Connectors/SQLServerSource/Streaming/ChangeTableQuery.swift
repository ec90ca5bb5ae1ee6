import SluiceCore
import SluiceSQLServer

/// The query that reads one capture instance's changes in a window, in emission order:
///
/// ```sql
/// SELECT f.__$start_lsn, f.__$seqval, f.__$operation, ct.__$command_id, f.[col1], …
/// FROM cdc.[fn_cdc_get_all_changes_<ci>](@from, @to, N'all update old') AS f
/// JOIN cdc.[<ci>_CT] AS ct ON ct.__$start_lsn = f.__$start_lsn AND ct.__$seqval = f.__$seqval
///                         AND ct.__$operation = f.__$operation
/// WHERE f.__$start_lsn < @stop            -- only when a newer capture instance takes over at @stop
/// ORDER BY f.__$start_lsn, ct.__$command_id, f.__$seqval, f.__$operation
/// ```
///
/// The function does not return `__$command_id`; the join to the change table (on its clustered key)
/// adds it, so rows come in Microsoft's documented order of operations inside a transaction.
public struct ChangeTableQuery: Sendable {
    public let instance: CaptureInstance
    public let from: LSN
    public let to: LSN
    /// Rows at or after this LSN belong to a newer capture instance of the same table.
    public let stop: LSN?

    public init(instance: CaptureInstance, from: LSN, to: LSN, stop: LSN?) {
        self.instance = instance
        self.from = from
        self.to = to
        self.stop = stop
    }

    public var query: SQLServerQuery {
        let columns = instance.columns.map { "f." + quoteIdentifier($0.name) }.joined(separator: ", ")
        let select = """
            SELECT f.[__$start_lsn], f.[__$seqval], f.[__$operation], ct.[__$command_id], \(columns)
            FROM cdc.\(quoteIdentifier("fn_cdc_get_all_changes_" + instance.name))
            """
        let join = """
             AS f
            JOIN cdc.\(quoteIdentifier(instance.name + "_CT")) AS ct
              ON ct.[__$start_lsn] = f.[__$start_lsn] AND ct.[__$seqval] = f.[__$seqval] AND ct.[__$operation] = f.[__$operation]
            """
        let order = " ORDER BY f.[__$start_lsn], ct.[__$command_id], f.[__$seqval], f.[__$operation]"
        if let stop {
            return """
                \(unsafeRaw: select)(\(from.bytes, as: .binary(10)), \(to.bytes, as: .binary(10)), N'all update old')\(unsafeRaw: join) \
                WHERE f.[__$start_lsn] < \(stop.bytes, as: .binary(10))\(unsafeRaw: order)
                """
        }
        return """
            \(unsafeRaw: select)(\(from.bytes, as: .binary(10)), \(to.bytes, as: .binary(10)), N'all update old')\(unsafeRaw: join)\(unsafeRaw: order)
            """
    }

    /// Maps one result row to a change row.
    public func changeRow(_ row: SQLServerRow, mapping: ChangeEventMapping) throws -> ChangeRow {
        guard let startBytes = row[0].bytes, let start = LSN(bytes: startBytes),
              let seqBytes = row[1].bytes, let seqval = LSN(bytes: seqBytes),
              let opCode = row[2].int, let operation = ChangeRow.Operation(rawValue: opCode),
              let commandID = row[3].int
        else {
            throw ChangeEventAssembler.AssemblyError(description: "capture instance \(instance.name): a change row lacks its metadata columns")
        }
        let values = try mapping.values(row, columns: instance.columns, firstColumn: 4)
        return ChangeRow(captureInstance: instance.name, table: instance.table, startLSN: start, seqval: seqval,
                         operation: operation, commandID: commandID, values: values)
    }
}
