import Logging
import SluiceCore
import SluiceSQLServer

/// Applies a `WarehouseBatch` to the warehouse with set-based T-SQL. Call it inside one transaction
/// together with `WarehouseOffsetStore.store` (the sink's `WarehouseTarget` does):
///
/// 1. read the current version of every touched dimension key and the last position of every touched
///    fact row, `WITH (UPDLOCK, HOLDLOCK)` so nothing else changes them until commit;
/// 2. plan (`DimensionPlanner`, `FactPlanner`): pure, unit-tested;
/// 3. per dimension: `MERGE … WITH (HOLDLOCK)` closing superseded current versions, `INSERT … SELECT
///    … WHERE NOT EXISTS (version_id)` of new versions in position order, `MERGE` of type 1 values;
/// 4. facts: `MERGE … WITH (HOLDLOCK)` upserts guarded by `last_position`;
/// 5. re-key the facts whose dimension versions may have changed (a version valid at the fact's
///    `recorded_at` arrived): their version keys only depend on the dimension history, so the result
///    does not depend on which topic was consumed first.
///
/// Step 1 travels as one request (one `sp_executesql` call, one result set per read) and steps 3-5 as
/// another, in the order above: two round trips per batch, not one per statement (each costs the sink a
/// thread-pool hop, a wake-up and a response to read).
public struct WarehouseWriter: Sendable {
    public let model: WarehouseModel
    let logger: Logger

    public init(model: WarehouseModel, logger: Logger) {
        self.model = model
        self.logger = logger
    }

    /// What one batch did.
    public struct Summary: Sendable, Hashable {
        /// Events whose effect was written, per warehouse table.
        public var applied: [String: Int] = [:]
        /// New versions per dimension table.
        public var versionsCreated: [String: Int] = [:]
        /// Events not newer than what the warehouse holds for their key, per warehouse table.
        public var ignored: [String: Int] = [:]

        public var ignoredTotal: Int { ignored.values.reduce(0, +) }
    }

    public func apply(_ batch: WarehouseBatch, on connection: SQLServerConnection) async throws -> Summary {
        try await apply(batch, appending: { _ in }, on: connection)
    }

    /// `apply`, with `more` statements (the offsets of `WarehouseOffsetStore.appendStore`) appended to the
    /// request that writes the batch: they run after the batch's writes, in the same request.
    func apply(_ batch: WarehouseBatch, appending more: (inout StatementBuilder) -> Void,
               on connection: SQLServerConnection) async throws -> Summary {
        var summary = Summary()
        // One request reads what the plans need: each part's statement (a part without changes has none),
        // one result set each, in this order. Nothing the batch writes is read by another part's read.
        let customerKeys = Array(Set(batch.customers.map(\.key))).sorted()
        let applicationKeys = Array(Set(batch.applications.map(\.key))).sorted()
        let applicationFactKeys = Array(Set(batch.applicationFacts.map(\.key))).sorted()
        let repaymentKeys = Array(Set(batch.repayments.map(\.key))).sorted()
        var reads = StatementBuilder()
        appendReadCurrentVersions(model.customer, keys: customerKeys, to: &reads)
        appendReadCurrentVersions(model.application, keys: applicationKeys, to: &reads)
        appendReadLastPositions(table: WarehouseModel.applicationFactTable, key: "application_id", keys: applicationFactKeys, to: &reads)
        appendReadLastPositions(table: WarehouseModel.repaymentFactTable, key: "repayment_id", keys: repaymentKeys, to: &reads)
        var resultSets: ArraySlice<SQLServerRowSet> = reads.isEmpty ? [] : try await connection.execute(reads.query).resultSets[...]
        let expected = [customerKeys, applicationKeys, applicationFactKeys, repaymentKeys].filter { !$0.isEmpty }.count
        guard resultSets.count == expected else {
            throw WarehouseSinkError(code: .warehouseRejected,
                                     message: "the warehouse answered the batch's \(expected) reads with \(resultSets.count) result sets")
        }
        func next(_ keys: [Int64]) -> [SQLServerRow] { keys.isEmpty ? [] : resultSets.popFirst()?.rows ?? [] }
        let customersNow = try currentVersions(model.customer, next(customerKeys))
        let applicationsNow = try currentVersions(model.application, next(applicationKeys))
        let applicationFactPositions = lastPositions(next(applicationFactKeys))
        let repaymentPositions = lastPositions(next(repaymentKeys))

        // One request writes the batch, in the order the statements ran one by one before: each
        // dimension's closes, new versions and type 1 updates, the facts' upserts, then the re-keys.
        var writes = StatementBuilder()
        let customerPlan = planDimension(model.customer, batch.customers, current: customersNow, summary: &summary, into: &writes)
        let applicationPlan = planDimension(model.application, batch.applications, current: applicationsNow, summary: &summary, into: &writes)
        let applicationFacts = planFact(
            table: WarehouseModel.applicationFactTable, key: "application_id", columns: WarehouseModel.applicationFactTableColumns,
            batch.applicationFacts, lastPositions: applicationFactPositions, summary: &summary, into: &writes)
        let repayments = planFact(
            table: WarehouseModel.repaymentFactTable, key: "repayment_id", columns: WarehouseModel.repaymentFactColumns,
            batch.repayments, lastPositions: repaymentPositions, summary: &summary, into: &writes)

        let customers = customerPlan.keysWithNewVersions
        let applications = Array(Set(applicationPlan.keysWithNewVersions + applicationFacts.upserts.map(\.key))).sorted()
        rekeyApplicationFacts(customers: customers, applications: applications, into: &writes)
        rekeyRepayments(customers: customers, applications: applications, repayments: repayments.upserts.map(\.key), into: &writes)
        more(&writes)
        if !writes.isEmpty {
            try await connection.execute(writes.query)
        }
        return summary
    }

    // MARK: Dimensions

    private func planDimension(_ dimension: DimensionModel, _ changes: [DimensionChange], current: [Int64: DimensionVersion],
                               summary: inout Summary, into writes: inout StatementBuilder) -> DimensionPlan {
        guard !changes.isEmpty else { return DimensionPlan() }
        let plan = DimensionPlanner(model: dimension).plan(current: current, changes: changes)
        log(ignored: plan.ignored, table: dimension.table)
        summary.applied[dimension.table, default: 0] += plan.applied
        summary.ignored[dimension.table, default: 0] += plan.ignored.count
        summary.versionsCreated[dimension.table, default: 0] += plan.inserts.count
        close(dimension, plan.closes, into: &writes)
        insert(dimension, plan.inserts, into: &writes)
        updateType1(dimension, plan.type1Updates, into: &writes)
        return plan
    }

    /// `SELECT` of the current versions of `keys`, locked until commit; nothing for no keys.
    private func appendReadCurrentVersions(_ dimension: DimensionModel, keys: [Int64], to s: inout StatementBuilder) {
        guard !keys.isEmpty else { return }
        let attributes = dimension.tracked + dimension.type1
        s.append("SELECT ")
        s.append(([dimension.surrogateColumn, "version_id", dimension.keyColumn] + attributes.map(\.name)
                  + ["valid_from", "is_deleted", "source_position", "last_position"]).map { quoteIdentifier($0) }
            .joined(separator: ", "))
        s.append(" FROM \(dimension.qualifiedTable) WITH (UPDLOCK, HOLDLOCK) WHERE is_current = 1 AND ")
        s.appendIn(quoteIdentifier(dimension.keyColumn), keys)
        s.append(";\n")
    }

    private func currentVersions(_ dimension: DimensionModel, _ rows: [SQLServerRow]) throws -> [Int64: DimensionVersion] {
        var result: [Int64: DimensionVersion] = [:]
        let attributes = dimension.tracked + dimension.type1
        for row in rows {
            guard let surrogate = row[0].int64, let versionID = row[1].bytes, let key = row[2].int64,
                  case .dateTime(let validFrom) = row[3 + attributes.count],
                  let isDeleted = row[4 + attributes.count].bool,
                  let sourceBytes = row[5 + attributes.count].bytes,
                  let source = SourcePosition(warehouseBytes: sourceBytes),
                  let lastBytes = row[6 + attributes.count].bytes,
                  let last = SourcePosition(warehouseBytes: lastBytes)
            else {
                throw WarehouseSinkError(
                    code: .warehouseRejected,
                    message: "a current row of \(dimension.table) has unreadable bookkeeping columns; compare the table with db-init/warehouse/20-tables.sql")
            }
            let values = attributes.enumerated().map { index, column in column.normalize(row[3 + index]) }
            result[key] = DimensionVersion(
                surrogateKey: surrogate, versionID: versionID, key: key,
                tracked: Array(values[0..<dimension.tracked.count]), type1: Array(values[dimension.tracked.count...]),
                validFromMs: validFrom.millisecondsSinceEpoch, validToMs: nil, isDeleted: isDeleted,
                sourcePosition: source, lastPosition: last)
        }
        return result
    }

    private func close(_ dimension: DimensionModel, _ closes: [DimensionPlan.Close], into s: inout StatementBuilder) {
        let columns: [(name: String, type: SQLServerDataType)] = [
            ("version_id", .binary(32)), ("valid_to", .datetime2(scale: 3)), ("last_position", .binary(58)),
        ]
        if !closes.isEmpty {
            var rows = PackedRows(types: columns.map(\.type), expectedRows: closes.count)
            for close in closes {
                rows.beginRow()
                rows.appendHex(close.versionID)
                rows.appendDateTime(millisecondsSinceEpoch: close.validToMs)
                rows.appendPosition(close.lastPosition)
                rows.endRow()
            }
            s.append("MERGE \(dimension.qualifiedTable) WITH (HOLDLOCK) AS t USING ")
            s.appendRows(rows, columns: columns)
            s.append("""
                 ON t.version_id = s.version_id
                WHEN MATCHED AND t.is_current = 1 THEN
                    UPDATE SET valid_to = s.valid_to, is_current = 0, last_position = s.last_position;
                """)
            s.append("\n")
        }
    }

    private func insert(_ dimension: DimensionModel, _ versions: [DimensionVersion], into s: inout StatementBuilder) {
        let attributes = dimension.tracked + dimension.type1
        let columns: [(name: String, type: SQLServerDataType)] =
            [("ordinal", .int), ("version_id", .binary(32)), (dimension.keyColumn, .int)]
            + attributes.map { ($0.name, $0.sqlType) }
            + [("valid_from", .datetime2(scale: 3)), ("valid_to", .datetime2(scale: 3)), ("is_current", .bit),
               ("is_deleted", .bit), ("source_position", .binary(58)), ("last_position", .binary(58))]
        let targetColumns = columns.dropFirst().map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let sourceColumns = columns.dropFirst().map { "s." + quoteIdentifier($0.name) }.joined(separator: ", ")
        if !versions.isEmpty {
            var rows = PackedRows(types: columns.map(\.type), expectedRows: versions.count)
            for (ordinal, v) in versions.enumerated() {
                rows.beginRow()
                rows.appendInt(Int64(ordinal))
                rows.appendHex(v.versionID)
                rows.appendInt(Int64(Int32(truncatingIfNeeded: v.key)))
                rows.append(contentsOf: v.tracked)
                rows.append(contentsOf: v.type1)
                rows.appendDateTime(millisecondsSinceEpoch: v.validFromMs)
                if let validTo = v.validToMs { rows.appendDateTime(millisecondsSinceEpoch: validTo) } else { rows.appendNull() }
                rows.appendBit(v.isCurrent)
                rows.appendBit(v.isDeleted)
                rows.appendPosition(v.sourcePosition)
                rows.appendPosition(v.lastPosition)
                rows.endRow()
            }
            s.append("INSERT INTO \(dimension.qualifiedTable) (\(targetColumns)) SELECT \(sourceColumns) FROM ")
            s.appendRows(rows, columns: columns)
            s.append("""
                 WHERE NOT EXISTS (SELECT 1 FROM \(dimension.qualifiedTable) AS d WHERE d.version_id = s.version_id)
                ORDER BY s.ordinal;
                """)
            s.append("\n")
        }
    }

    private func updateType1(_ dimension: DimensionModel, _ updates: [DimensionPlan.Type1Update], into s: inout StatementBuilder) {
        let columns: [(name: String, type: SQLServerDataType)] =
            [(dimension.keyColumn, .int), ("all_versions", .bit), ("last_position", .binary(58))]
            + dimension.type1.map { ($0.name, $0.sqlType) }
        let assignments = (dimension.type1.map { "\(quoteIdentifier($0.name)) = s.\(quoteIdentifier($0.name))" }
            + ["last_position = (CASE WHEN t.is_current = 1 THEN s.last_position ELSE t.last_position END)"])
            .joined(separator: ", ")
        let key = quoteIdentifier(dimension.keyColumn)
        if !updates.isEmpty {
            var rows = PackedRows(types: columns.map(\.type), expectedRows: updates.count)
            for update in updates {
                rows.beginRow()
                rows.appendInt(Int64(Int32(truncatingIfNeeded: update.key)))
                rows.appendBit(update.allVersions)
                rows.appendPosition(update.lastPosition)
                rows.append(contentsOf: update.type1)
                rows.endRow()
            }
            s.append("MERGE \(dimension.qualifiedTable) WITH (HOLDLOCK) AS t USING ")
            s.appendRows(rows, columns: columns)
            s.append("""
                 ON t.\(key) = s.\(key)
                WHEN MATCHED AND (t.is_current = 1 OR s.all_versions = 1) THEN
                    UPDATE SET \(assignments);
                """)
            s.append("\n")
        }
    }

    // MARK: Facts

    /// `SELECT` of the last applied position of the fact rows `keys`, locked until commit; nothing for no keys.
    private func appendReadLastPositions(table: String, key: String, keys: [Int64], to s: inout StatementBuilder) {
        guard !keys.isEmpty else { return }
        let quotedKey = quoteIdentifier(key)
        s.append("SELECT \(quotedKey), last_position FROM \(quoteIdentifier(model.schema, table)) WITH (UPDLOCK, HOLDLOCK) WHERE ")
        s.appendIn(quotedKey, keys)
        s.append(";\n")
    }

    private func lastPositions(_ rows: [SQLServerRow]) -> [Int64: SourcePosition] {
        var lastPositions: [Int64: SourcePosition] = [:]
        for row in rows {
            if let k = row[0].int64, let bytes = row[1].bytes, let position = SourcePosition(warehouseBytes: bytes) {
                lastPositions[k] = position
            }
        }
        return lastPositions
    }

    private func planFact(table: String, key: String, columns factColumns: [WarehouseColumn], _ changes: [FactChange],
                          lastPositions: [Int64: SourcePosition], summary: inout Summary, into s: inout StatementBuilder) -> FactPlan {
        guard !changes.isEmpty else { return FactPlan() }
        let qualified = quoteIdentifier(model.schema, table)
        let quotedKey = quoteIdentifier(key)
        let plan = FactPlanner().plan(lastPositions: lastPositions, changes: changes)
        log(ignored: plan.ignored, table: table)
        summary.applied[table, default: 0] += plan.applied
        summary.ignored[table, default: 0] += plan.ignored.count

        let columns: [(name: String, type: SQLServerDataType)] = [(key, .int)] + factColumns.map { ($0.name, $0.sqlType) }
            + [("recorded_at", .datetime2(scale: 3)), ("is_deleted", .bit), ("last_position", .binary(58))]
        let updates = (factColumns.map(\.name) + ["is_deleted", "last_position"])
            .map { "\(quoteIdentifier($0)) = s.\(quoteIdentifier($0))" }.joined(separator: ", ")
        let insertColumns = columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let insertValues = columns.map { "s." + quoteIdentifier($0.name) }.joined(separator: ", ")
        if !plan.upserts.isEmpty {
            var rows = PackedRows(types: columns.map(\.type), expectedRows: plan.upserts.count)
            for row in plan.upserts {
                rows.beginRow()
                rows.appendInt(Int64(Int32(truncatingIfNeeded: row.key)))
                rows.append(contentsOf: row.values)
                rows.appendDateTime(millisecondsSinceEpoch: row.recordedAtMs)
                rows.appendBit(row.isDeleted)
                rows.appendPosition(row.lastPosition)
                rows.endRow()
            }
            s.append("MERGE \(qualified) WITH (HOLDLOCK) AS t USING ")
            s.appendRows(rows, columns: columns)
            s.append("""
                 ON t.\(quotedKey) = s.\(quotedKey)
                WHEN MATCHED AND t.last_position < s.last_position THEN
                    UPDATE SET \(updates)
                WHEN NOT MATCHED BY TARGET THEN
                    INSERT (\(insertColumns)) VALUES (\(insertValues));
                """)
            s.append("\n")
        }
        return plan
    }

    // MARK: Version keys of facts

    /// `customer_version_key` of the applications of `customers` and of `applications`: the customer
    /// version whose validity holds the application's `recorded_at`.
    private func rekeyApplicationFacts(customers: [Int64], applications: [Int64], into s: inout StatementBuilder) {
        rekey(
            fact: WarehouseModel.applicationFactTable, alias: "f", key: "application_id",
            columns: [("customer_version_key", "d.customer_version_key")],
            joins: "LEFT JOIN \(model.customer.qualifiedTable) AS d ON d.customer_id = f.customer_id AND \(Self.valid("d", at: "f"))",
            selecting: [("f.customer_id", customers), ("f.application_id", applications)], into: &s)
    }

    /// `customer_id`, `application_version_key` and `customer_version_key` of the repayments of
    /// `customers`, of `applications` and of `repayments`, as valid at each repayment's `recorded_at`.
    private func rekeyRepayments(customers: [Int64], applications: [Int64], repayments: [Int64], into s: inout StatementBuilder) {
        rekey(
            fact: WarehouseModel.repaymentFactTable, alias: "r", key: "repayment_id",
            columns: [("customer_id", "a.customer_id"), ("application_version_key", "da.application_version_key"),
                      ("customer_version_key", "dc.customer_version_key")],
            joins: """
                LEFT JOIN \(quoteIdentifier(model.schema, WarehouseModel.applicationFactTable)) AS a ON a.application_id = r.application_id
                LEFT JOIN \(model.application.qualifiedTable) AS da ON da.application_id = r.application_id AND \(Self.valid("da", at: "r"))
                LEFT JOIN \(model.customer.qualifiedTable) AS dc ON dc.customer_id = a.customer_id AND \(Self.valid("dc", at: "r"))
                """,
            selecting: [("a.customer_id", customers), ("r.application_id", applications), ("r.repayment_id", repayments)],
            into: &s)
    }

    /// The dimension version (alias `dimension`) valid at the fact row's (alias `fact`) `recorded_at`.
    private static func valid(_ dimension: String, at fact: String) -> String {
        "\(dimension).valid_from <= \(fact).recorded_at AND (\(dimension).valid_to IS NULL OR \(fact).recorded_at < \(dimension).valid_to)"
    }

    /// The re-key statements: for the rows of `fact` (alias `alias`) selected by each `(column, ids)`,
    /// sets `columns` to their `expression`s over `joins` where any of them differs (NULL compared as -1).
    private func rekey(fact: String, alias: String, key: String, columns: [(name: String, expression: String)], joins: String,
                       selecting selectors: [(column: String, ids: [Int64])], into s: inout StatementBuilder) {
        let table = quoteIdentifier(model.schema, fact)
        let key = quoteIdentifier(key)
        let select = ([alias + "." + key] + columns.map { "\($0.expression) AS \(quoteIdentifier($0.name))" }).joined(separator: ", ")
        let differs = columns.map { "ISNULL(t.\(quoteIdentifier($0.name)), -1) <> ISNULL(s.\(quoteIdentifier($0.name)), -1)" }
            .joined(separator: " OR ")
        let assignments = columns.map { "\(quoteIdentifier($0.name)) = s.\(quoteIdentifier($0.name))" }.joined(separator: ", ")
        for (column, ids) in selectors where !ids.isEmpty {
            s.append("""
                MERGE \(table) WITH (HOLDLOCK) AS t
                USING (
                    SELECT \(select)
                    FROM \(table) AS \(alias)
                    \(joins)
                    WHERE 
                """)
            s.appendIn(column, ids)
            s.append("""
                ) AS s ON t.\(key) = s.\(key)
                WHEN MATCHED AND (\(differs)) THEN
                    UPDATE SET \(assignments);
                """)
            s.append("\n")
        }
    }

    // MARK: Logging

    private func log(ignored: [DimensionPlan.Ignored], table: String) {
        guard let first = ignored.first else { return }
        // Keys and positions only: row values may be personal data.
        logger.notice("Ignored events not newer than the warehouse's history (replayed or late)", metadata: [
            WarehouseLoggingKeys.table: "\(table)",
            WarehouseLoggingKeys.count: "\(ignored.count)",
            WarehouseLoggingKeys.key: "\(first.key)",
            WarehouseLoggingKeys.position: "\(first.position)",
            WarehouseLoggingKeys.lastApplied: "\(first.lastApplied)",
        ])
    }
}
