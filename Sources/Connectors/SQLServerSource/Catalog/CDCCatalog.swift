import Logging
import NIOConcurrencyHelpers
import SluiceCore
import SluiceSQLServer

/// Reads a database's CDC catalog: capture instances, their captured columns and key columns, the LSN
/// bounds and commit times. Only documented catalog views and functions, so it works on any SQL Server
/// 2016+ with CDC enabled.
public struct CDCCatalog: Sendable {
    public let database: String
    public let mapping: SQLServerTypeMapping.DecimalMode
    /// `message.key.columns`: `schema.table` → key columns.
    public let keyOverrides: [String: [String]]
    /// The typed columns and key columns of each capture instance read so far. A capture instance's
    /// change table keeps the column set and types it was created with (a schema change needs a new
    /// instance), and a dropped and re-created instance is a new change table (a new object_id), so
    /// they are read once per instance instead of on every window.
    private let described = NIOLockedValueBox<[InstanceIdentity: (columns: [CapturedColumn], keys: [String])]>([:])

    private struct InstanceIdentity: Hashable {
        let name: String
        let changeTableObjectID: Int
        let startLSN: LSN
    }

    public init(database: String, mapping: SQLServerTypeMapping.DecimalMode, keyOverrides: [String: [String]]) {
        self.database = database
        self.mapping = mapping
        self.keyOverrides = keyOverrides
    }

    public struct CatalogError: Error, Hashable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Every capture instance of the database, oldest first.
    public func captureInstances(_ connection: SQLServerConnection) async throws -> [CaptureInstance] {
        let result = try await connection.execute("""
            SELECT ct.capture_instance, s.name AS source_schema, t.name AS source_table, ct.start_lsn, ct.object_id
            FROM cdc.change_tables AS ct
            JOIN sys.tables AS t ON t.object_id = ct.source_object_id
            JOIN sys.schemas AS s ON s.schema_id = t.schema_id
            ORDER BY ct.create_date, ct.capture_instance
            """)
        var instances: [CaptureInstance] = []
        for row in result.rows {
            guard let name = row[0].string, let schema = row[1].string, let table = row[2].string,
                  let lsnBytes = row[3].bytes, let start = LSN(bytes: lsnBytes), let objectID = row[4].int
            else { throw CatalogError(description: "cdc.change_tables returned an unexpected row: \(row.values)") }
            let tableID = TableID(database: database, schema: schema, table: table)
            let identity = InstanceIdentity(name: name, changeTableObjectID: objectID, startLSN: start)
            if let known = described.withLockedValue({ $0[identity] }) {
                instances.append(CaptureInstance(name: name, table: tableID, startLSN: start, changeTableObjectID: objectID,
                                                 columns: known.columns, keyColumns: known.keys))
                continue
            }
            let columns: [CapturedColumn]
            do {
                columns = try await capturedColumns(connection, captureInstance: name, keyColumns: [])
            } catch let unsupported as SQLServerTypeMapping.UnsupportedType {
                throw SourceError(.unsupportedColumnType, "table \(tableID.qualifiedName) (capture instance \(name)): \(unsupported.description)",
                                  underlying: unsupported)
            }
            var keys = keyOverrides[tableID.qualifiedName] ?? []
            if keys.isEmpty { keys = try await indexColumns(connection, changeTableObjectID: objectID) }
            // Key columns are never optional in the schema.
            let typed = columns.map { column -> CapturedColumn in
                var c = column
                if keys.contains(c.name) { c.field.optional = false }
                return c
            }
            described.withLockedValue { $0[identity] = (typed, keys) }
            instances.append(CaptureInstance(name: name, table: tableID, startLSN: start, changeTableObjectID: objectID,
                                             columns: typed, keyColumns: keys))
        }
        return instances
    }

    /// The captured columns, typed from the change table `cdc.<instance>_CT` (which keeps the column set
    /// and types the instance was created with).
    func capturedColumns(_ connection: SQLServerConnection, captureInstance: String, keyColumns: [String]) async throws -> [CapturedColumn] {
        let changeTable = captureInstance + "_CT"
        let result = try await connection.execute("""
            SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION
            FROM INFORMATION_SCHEMA.COLUMNS
            WHERE TABLE_SCHEMA = N'cdc' AND TABLE_NAME = \(changeTable)
            ORDER BY ORDINAL_POSITION
            """)
        var columns: [CapturedColumn] = []
        for row in result.rows {
            guard let name = row[0].string, let type = row[1].string else { continue }
            if name.hasPrefix("__$") { continue }
            let length = row[2].int
            let precision = row[3].int
            let lower = type.lowercased()
            let scale = SQLServerDataType.Name(type)?.hasFractionalSeconds == true ? row[5].int : row[4].int
            let field = try SQLServerTypeMapping.fieldSchema(column: name, typeName: type, length: length, precision: precision,
                                                             scale: scale, optional: true, decimalMode: mapping)
            columns.append(CapturedColumn(name: name, typeName: lower, length: length, precision: precision, scale: scale, field: field))
        }
        guard !columns.isEmpty else {
            throw CatalogError(description: "capture instance \(captureInstance): no captured columns found in INFORMATION_SCHEMA.COLUMNS for cdc.\(changeTable); does the login have SELECT on the cdc schema?")
        }
        return columns
    }

    func indexColumns(_ connection: SQLServerConnection, changeTableObjectID: Int) async throws -> [String] {
        let result = try await connection.execute(
            "SELECT column_name FROM cdc.index_columns WHERE object_id = \(changeTableObjectID) ORDER BY index_ordinal")
        return result.rows.compactMap { $0[0].string }
    }

    /// The upper bound of the next window: the commit LSN of the `maxTransactions`-th transaction at or
    /// after `from` (all of them when 0), from `cdc.lsn_time_mapping`. nil when nothing new was harvested.
    ///
    /// Debezium's choice, kept for the same reasons: `sys.fn_cdc_get_max_lsn()` also counts the capture
    /// job's empty (tran_id 0x00) entries and recompiles under load (Estuary saw lock contention), and
    /// the mapping table lets a window be bounded by a number of transactions, so one poll's work is bounded.
    public func windowUpperBound(_ connection: SQLServerConnection, from: LSN, maxTransactions: Int) async throws -> LSN? {
        try await windowUpperBound(connection, lowest: from, inclusive: true, maxTransactions: maxTransactions)
    }

    /// `windowUpperBound(from: sys.fn_cdc_increment_lsn(lsn))` in one query (the transactions after `lsn`):
    /// what an idle poll asks, so that it costs one round trip.
    public func windowUpperBound(_ connection: SQLServerConnection, after lsn: LSN, maxTransactions: Int) async throws -> LSN? {
        try await windowUpperBound(connection, lowest: lsn, inclusive: false, maxTransactions: maxTransactions)
    }

    private func windowUpperBound(_ connection: SQLServerConnection, lowest: LSN, inclusive: Bool, maxTransactions: Int) async throws -> LSN? {
        let result: SQLServerResponse
        switch (maxTransactions > 0, inclusive) {
        case (true, true):
            result = try await connection.execute("""
                SELECT MAX(w.start_lsn) FROM (
                    SELECT TOP (\(maxTransactions)) start_lsn FROM cdc.lsn_time_mapping
                    WHERE start_lsn >= \(lowest.bytes, as: .binary(10)) AND tran_id <> 0x00 ORDER BY start_lsn) AS w
                """)
        case (true, false):
            result = try await connection.execute("""
                SELECT MAX(w.start_lsn) FROM (
                    SELECT TOP (\(maxTransactions)) start_lsn FROM cdc.lsn_time_mapping
                    WHERE start_lsn > \(lowest.bytes, as: .binary(10)) AND tran_id <> 0x00 ORDER BY start_lsn) AS w
                """)
        case (false, true):
            result = try await connection.execute("""
                SELECT MAX(start_lsn) FROM cdc.lsn_time_mapping
                WHERE start_lsn >= \(lowest.bytes, as: .binary(10)) AND tran_id <> 0x00
                """)
        case (false, false):
            result = try await connection.execute("""
                SELECT MAX(start_lsn) FROM cdc.lsn_time_mapping
                WHERE start_lsn > \(lowest.bytes, as: .binary(10)) AND tran_id <> 0x00
                """)
        }
        return result.rows.first?[0].bytes.flatMap { LSN(bytes: $0) }
    }

    /// The highest LSN harvested so far (`sys.fn_cdc_get_max_lsn()`), nil when nothing was.
    public func maxLSN(_ connection: SQLServerConnection) async throws -> LSN? {
        let result = try await connection.execute("SELECT sys.fn_cdc_get_max_lsn()")
        return result.rows.first?[0].bytes.flatMap { LSN(bytes: $0) }
    }

    /// `sys.fn_cdc_increment_lsn(lsn)`.
    public func increment(_ connection: SQLServerConnection, _ lsn: LSN) async throws -> LSN {
        let result = try await connection.execute("SELECT sys.fn_cdc_increment_lsn(\(lsn.bytes, as: .binary(10)))")
        guard let bytes = result.rows.first?[0].bytes, let next = LSN(bytes: bytes) else {
            throw CatalogError(description: "sys.fn_cdc_increment_lsn(\(lsn)) returned no LSN")
        }
        return next
    }

    /// Commit times (UTC ms since epoch) of the transactions in [from, to], from `cdc.lsn_time_mapping`,
    /// whose times are the server's local time: converted with the server's current UTC offset.
    public func commitTimes(_ connection: SQLServerConnection, from: LSN, to: LSN) async throws -> [LSN: Int64] {
        let result = try await connection.execute("""
            SELECT start_lsn, tran_end_time, DATEPART(TZOFFSET, SYSDATETIMEOFFSET())
            FROM cdc.lsn_time_mapping
            WHERE start_lsn >= \(from.bytes, as: .binary(10)) AND start_lsn <= \(to.bytes, as: .binary(10)) AND tran_id <> 0x00
            """)
        var times: [LSN: Int64] = [:]
        for row in result.rows {
            guard let bytes = row[0].bytes, let lsn = LSN(bytes: bytes), case .dateTime(let local) = row[1] else { continue }
            let offsetMinutes = Int64(row[2].int ?? 0)
            times[lsn] = local.millisecondsSinceEpoch - offsetMinutes * 60_000
        }
        return times
    }
}
