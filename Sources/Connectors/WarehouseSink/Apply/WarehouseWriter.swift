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
        var summary = Summary()
        let customerPlan = try await applyDimension(model.customer, batch.customers, on: connection, summary: &summary)
        let applicationPlan = try await applyDimension(model.application, batch.applications, on: connection, summary: &summary)
        let applicationFacts = try await applyFact(
            table: WarehouseModel.applicationFactTable, key: "application_id",
            columns: WarehouseModel.applicationFactTableColumns, batch.applicationFacts, on: connection, summary: &summary)
        let repayments = try await applyFact(
            table: WarehouseModel.repaymentFactTable, key: "repayment_id",
            columns: WarehouseModel.repaymentFactColumns, batch.repayments, on: connection, summary: &summary)

        let customers = customerPlan.keysWithNewVersions
        let applications = Array(Set(applicationPlan.keysWithNewVersions + applicationFacts.upserts.map(\.key))).sorted()
        try await rekeyApplicationFacts(customers: customers, applications: applications, on: connection)
        try await rekeyRepayments(customers: customers, applications: applications,
                                  repayments: repayments.upserts.map(\.key), on: connection)
        return summary
    }

    // MARK: Dimensions

    private func applyDimension(_ dimension: DimensionModel, _ changes: [DimensionChange], on connection: SQLServerConnection,
                                summary: inout Summary) async throws -> DimensionPlan {
        guard !changes.isEmpty else { return DimensionPlan() }
        let keys = Array(Set(changes.map(\.key))).sorted()
        let current = try await readCurrentVersions(dimension, keys: keys, on: connection)
        let plan = DimensionPlanner(model: dimension).plan(current: current, changes: changes)
        log(ignored: plan.ignored, table: dimension.table)
        summary.applied[dimension.table, default: 0] += plan.applied
        summary.ignored[dimension.table, default: 0] += plan.ignored.count
        summary.versionsCreated[dimension.table, default: 0] += plan.inserts.count
        try await close(dimension, plan.closes, on: connection)
        try await insert(dimension, plan.inserts, on: connection)
        try await updateType1(dimension, plan.type1Updates, on: connection)
        return plan
    }

    func readCurrentVersions(_ dimension: DimensionModel, keys: [Int64], on connection: SQLServerConnection)
        async throws -> [Int64: DimensionVersion]
    {
        var result: [Int64: DimensionVersion] = [:]
        let attributes = dimension.tracked + dimension.type1
        var s = StatementBuilder("SELECT ")
        s.append(([dimension.surrogateColumn, "version_id", dimension.keyColumn] + attributes.map(\.name)
                  + ["valid_from", "is_deleted", "source_position", "last_position"]).map { quoteIdentifier($0) }
            .joined(separator: ", "))
        s.append(" FROM \(dimension.qualifiedTable) WITH (UPDLOCK, HOLDLOCK) WHERE is_current = 1 AND ")
        s.appendIn(quoteIdentifier(dimension.keyColumn), keys)
        for row in try await connection.execute(s.query).rows {
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

    private func close(_ dimension: DimensionModel, _ closes: [DimensionPlan.Close], on connection: SQLServerConnection) async throws {
        let columns: [(name: String, type: SQLServerDataType)] = [
            ("version_id", .binary(32)), ("valid_to", .datetime2(scale: 3)), ("last_position", .binary(58)),
        ]
        if !closes.isEmpty {
            var s = StatementBuilder("MERGE \(dimension.qualifiedTable) WITH (HOLDLOCK) AS t USING ")
            s.appendRows(closes.map { [.bytes($0.versionID), .dateTime(SQLDateTime(millisecondsSinceEpoch: $0.validToMs)),
                                       .bytes($0.lastPosition.warehouseBytes)] }, columns: columns)
            s.append("""
                 ON t.version_id = s.version_id
                WHEN MATCHED AND t.is_current = 1 THEN
                    UPDATE SET valid_to = s.valid_to, is_current = 0, last_position = s.last_position;
                """)
            try await connection.execute(s.query)
        }
    }

    private func insert(_ dimension: DimensionModel, _ versions: [DimensionVersion], on connection: SQLServerConnection) async throws {
        let attributes = dimension.tracked + dimension.type1
        let columns: [(name: String, type: SQLServerDataType)] =
            [("ordinal", .int), ("version_id", .binary(32)), (dimension.keyColumn, .int)]
            + attributes.map { ($0.name, $0.sqlType) }
            + [("valid_from", .datetime2(scale: 3)), ("valid_to", .datetime2(scale: 3)), ("is_current", .bit),
               ("is_deleted", .bit), ("source_position", .binary(58)), ("last_position", .binary(58))]
        let targetColumns = columns.dropFirst().map { quoteIdentifier($0.name) }.joined(separator: ", ")
        let sourceColumns = columns.dropFirst().map { "s." + quoteIdentifier($0.name) }.joined(separator: ", ")
        let rows = versions.enumerated().map { ordinal, v -> [SQLServerValue] in
            [.int(Int32(ordinal)), .bytes(v.versionID), .int(Int32(truncatingIfNeeded: v.key))] + v.tracked + v.type1
                + [.dateTime(SQLDateTime(millisecondsSinceEpoch: v.validFromMs)),
                   v.validToMs.map { .dateTime(SQLDateTime(millisecondsSinceEpoch: $0)) } ?? .null,
                   .bit(v.isCurrent), .bit(v.isDeleted), .bytes(v.sourcePosition.warehouseBytes),
                   .bytes(v.lastPosition.warehouseBytes)]
        }
        if !rows.isEmpty {
            var s = StatementBuilder("INSERT INTO \(dimension.qualifiedTable) (\(targetColumns)) SELECT \(sourceColumns) FROM ")
            s.appendRows(rows, columns: columns)
            s.append("""
                 WHERE NOT EXISTS (SELECT 1 FROM \(dimension.qualifiedTable) AS d WHERE d.version_id = s.version_id)
                ORDER BY s.ordinal;
                """)
            try await connection.execute(s.query)
        }
    }

    private func updateType1(_ dimension: DimensionModel, _ updates: [DimensionPlan.Type1Update], on connection: SQLServerConnection) async throws {
        let columns: [(name: String, type: SQLServerDataType)] =
            [(dimension.keyColumn, .int), ("all_versions", .bit), ("last_position", .binary(58))]
            + dimension.type1.map { ($0.name, $0.sqlType) }
        let assignments = (dimension.type1.map { "\(quoteIdentifier($0.name)) = s.\(quoteIdentifier($0.name))" }
            + ["last_position = (CASE WHEN t.is_current = 1 THEN s.last_position ELSE t.last_position END)"])
            .joined(separator: ", ")
        let key = quoteIdentifier(dimension.keyColumn)
        if !updates.isEmpty {
            var s = StatementBuilder("MERGE \(dimension.qualifiedTable) WITH (HOLDLOCK) AS t USING ")
            s.appendRows(updates.map { [.int(Int32(truncatingIfNeeded: $0.key)), .bit($0.allVersions), .bytes($0.lastPosition.warehouseBytes)] + $0.type1 },
                         columns: columns)
            s.append("""
                 ON t.\(key) = s.\(key)
                WHEN MATCHED AND (t.is_current = 1 OR s.all_versions = 1) THEN
                    UPDATE SET \(assignments);
                """)
            try await connection.execute(s.query)
        }
    }

    // MARK: Facts

    private func applyFact(table: String, key: String, columns factColumns: [WarehouseColumn], _ changes: [FactChange],
                           on connection: SQLServerConnection, summary: inout Summary) async throws -> FactPlan {
        guard !changes.isEmpty else { return FactPlan() }
        let qualified = quoteIdentifier(model.schema, table)
        let quotedKey = quoteIdentifier(key)
        var lastPositions: [Int64: SourcePosition] = [:]
        var lookup = StatementBuilder("SELECT \(quotedKey), last_position FROM \(qualified) WITH (UPDLOCK, HOLDLOCK) WHERE ")
        lookup.appendIn(quotedKey, Array(Set(changes.map(\.key))).sorted())
        for row in try await connection.execute(lookup.query).rows {
            if let k = row[0].int64, let bytes = row[1].bytes, let position = SourcePosition(warehouseBytes: bytes) {
                lastPositions[k] = position
            }
        }
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
            var s = StatementBuilder("MERGE \(qualified) WITH (HOLDLOCK) AS t USING ")
            s.appendRows(plan.upserts.map { row in
                [.int(Int32(truncatingIfNeeded: row.key))] + row.values
                    + [.dateTime(SQLDateTime(millisecondsSinceEpoch: row.recordedAtMs)), .bit(row.isDeleted), .bytes(row.lastPosition.warehouseBytes)]
            }, columns: columns)
            s.append("""
                 ON t.\(quotedKey) = s.\(quotedKey)
                WHEN MATCHED AND t.last_position < s.last_position THEN
                    UPDATE SET \(updates)
                WHEN NOT MATCHED BY TARGET THEN
                    INSERT (\(insertColumns)) VALUES (\(insertValues));
                """)
            try await connection.execute(s.query)
        }
        return plan
    }

    // MARK: Version keys of facts

    /// `customer_version_key` of the applications of `customers` and of `applications`: the customer
    /// version whose validity holds the application's `recorded_at`.
    private func rekeyApplicationFacts(customers: [Int64], applications: [Int64], on connection: SQLServerConnection) async throws {
        try await rekey(
            fact: WarehouseModel.applicationFactTable, alias: "f", key: "application_id",
            columns: [("customer_version_key", "d.customer_version_key")],
            joins: "LEFT JOIN \(model.customer.qualifiedTable) AS d ON d.customer_id = f.customer_id AND \(Self.valid("d", at: "f"))",
            selecting: [("f.customer_id", customers), ("f.application_id", applications)], on: connection)
    }

    /// `customer_id`, `application_version_key` and `customer_version_key` of the repayments of
    /// `customers`, of `applications` and of `repayments`, as valid at each repayment's `recorded_at`.
    private func rekeyRepayments(customers: [Int64], applications: [Int64], repayments: [Int64],
                                 on connection: SQLServerConnection) async throws {
        try await rekey(
            fact: WarehouseModel.repaymentFactTable, alias: "r", key: "repayment_id",
            columns: [("customer_id", "a.customer_id"), ("application_version_key", "da.application_version_key"),
                      ("customer_version_key", "dc.customer_version_key")],
            joins: """
                LEFT JOIN \(quoteIdentifier(model.schema, WarehouseModel.applicationFactTable)) AS a ON a.application_id = r.application_id
                LEFT JOIN \(model.application.qualifiedTable) AS da ON da.application_id = r.application_id AND \(Self.valid("da", at: "r"))
                LEFT JOIN \(model.customer.qualifiedTable) AS dc ON dc.customer_id = a.customer_id AND \(Self.valid("dc", at: "r"))
                """,
            selecting: [("a.customer_id", customers), ("r.application_id", applications), ("r.repayment_id", repayments)],
            on: connection)
    }

    /// The dimension version (alias `dimension`) valid at the fact row's (alias `fact`) `recorded_at`.
    private static func valid(_ dimension: String, at fact: String) -> String {
        "\(dimension).valid_from <= \(fact).recorded_at AND (\(dimension).valid_to IS NULL OR \(fact).recorded_at < \(dimension).valid_to)"
    }

    /// The one re-key statement: for the rows of `fact` (alias `alias`) selected by each `(column, ids)`,
    /// sets `columns` to their `expression`s over `joins` where any of them differs (NULL compared as -1).
    private func rekey(fact: String, alias: String, key: String, columns: [(name: String, expression: String)], joins: String,
                       selecting selectors: [(column: String, ids: [Int64])], on connection: SQLServerConnection) async throws {
        let table = quoteIdentifier(model.schema, fact)
        let key = quoteIdentifier(key)
        let select = ([alias + "." + key] + columns.map { "\($0.expression) AS \(quoteIdentifier($0.name))" }).joined(separator: ", ")
        let differs = columns.map { "ISNULL(t.\(quoteIdentifier($0.name)), -1) <> ISNULL(s.\(quoteIdentifier($0.name)), -1)" }
            .joined(separator: " OR ")
        let assignments = columns.map { "\(quoteIdentifier($0.name)) = s.\(quoteIdentifier($0.name))" }.joined(separator: ", ")
        for (column, ids) in selectors where !ids.isEmpty {
            var s = StatementBuilder("""
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
            try await connection.execute(s.query)
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
