import Logging
import PostgresNIO
import SluiceCore
import SluiceSinkKit

extension PostgresSinkTarget {
    static let positionColumn = "__sluice_position"
    /// Serializes the sink's DDL across processes (CREATE … IF NOT EXISTS is not race-free in Postgres).
    static let ddlLockKey: Int64 = 0x5_1_0_1_C_E

    /// Creates the offsets schema, `sluice_offsets` and `sluice_deleted` once per process.
    func ensureBookkeeping() async throws {
        if bookkeepingReady.withLockedValue({ $0 }) { return }
        let schema = quoteIdentifier(configuration.offsetsSchema)
        let statements: [PostgresQuery] = [
            "CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)",
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: offsetsTable) (
              group_id text NOT NULL, topic text NOT NULL, "partition" integer NOT NULL, next_offset bigint NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (group_id, topic, "partition"))
            """,
            """
            CREATE TABLE IF NOT EXISTS \(unescaped: deletedTable) (
              table_name text NOT NULL, key text NOT NULL, position text COLLATE "C" NOT NULL,
              deleted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, key))
            """,
        ]
        do {
            let session = self.session
            try await session.withTransaction { connection in
                try await session.run("SELECT pg_advisory_xact_lock(\(Self.ddlLockKey))", on: connection)
                for statement in statements { try await session.run(statement, on: connection) }
            }
        } catch {
            throw SinkError.postgres(error, doing: "creating the sink's bookkeeping tables in schema \(configuration.offsetsSchema)", topics: [])
        }
        bookkeepingReady.withLockedValue { $0 = true }
    }

    /// The table's layout, creating the table or adding columns when the events need it.
    func ensureTable(schema: String, table: String, records: [SinkRecord], topics: [String]) async throws -> PostgresTableLayout {
        let name = "\(schema).\(table)"
        var schemas: [TableSchema] = []
        var seen = Set<TableSchema>()
        var last: TableSchema?
        for record in records {
            guard let s = record.schema else {
                throw SinkError(code: .recordRejected, message: "the event has no schema block; the Postgres sink needs value.converter.schemas.enable=true and key.converter.schemas.enable=true at the source")
            }
            // Records of a table share their decoded schema (equal at once: same column storage); only a
            // different one is hashed.
            if let last, last == s { continue }
            last = s
            if seen.insert(s).inserted { schemas.append(s) }
        }
        var current = layouts.withLockedValue { $0[name] }
        if let current, seen.isSubset(of: current.knownSchemas) { return current }
        // Each new schema is checked on its own, in event order, so a type flip inside one batch is seen.
        for tableSchema in schemas where current?.knownSchemas.contains(tableSchema) != true {
            var wanted: PostgresTableLayout
            do {
                wanted = try PostgresTableLayout.wanted(schema: schema, table: table, from: [tableSchema])
            } catch {
                throw SinkError(code: .tableStopped, message: "table \(name) cannot be created: \(error)", topics: topics)
            }
            if let current {
                wanted.knownSchemas.formUnion(current.knownSchemas)
                for column in current.columns where wanted.column(column.name) == nil { wanted.columns.append(column) }
                if wanted.keyColumns.isEmpty { wanted.keyColumns = current.keyColumns }
            }
            let layout = try await reconcile(wanted, topics: topics)
            layouts.withLockedValue { $0[name] = layout }
            current = layout
        }
        if let current { reportLineage(table: name, topics: topics, layout: current) }
        return current!
    }

    /// The table's layout was learned or changed: RUNNING with every table seen so far (only then, never
    /// per batch: the caller returned early when its schemas were known).
    func reportLineage(table name: String, topics: [String], layout: PostgresTableLayout) {
        guard let lineage else { return }
        let tables = lineageTables.withLockedValue { tables in
            tables[name] = (topics: (tables[name]?.topics ?? []).union(topics), layout: layout)
            return tables.keys.sorted().compactMap { key in tables[key].map { (topics: $0.topics.sorted(), layout: $0.layout) } }
        }
        let datasets = PostgresSinkConnector.lineageDatasets(configuration, tables: tables)
        lineage.report(part: "tables", inputs: datasets.inputs, outputs: datasets.outputs)
    }

    /// Compares the wanted layout with the table in Postgres: creates it, adds columns, widens types, or
    /// stops the table when a type changed incompatibly.
    func reconcile(_ wanted: PostgresTableLayout, topics: [String]) async throws -> PostgresTableLayout {
        let name = wanted.qualifiedName
        let evolve = configuration.schemaEvolution == .basic
        let logger = self.logger
        let session = self.session
        do {
            return try await session.withTransaction { connection in
                try await session.run("SELECT pg_advisory_xact_lock(\(Self.ddlLockKey))", on: connection)
                let rows = try await session.run("""
                    SELECT a.attname, format_type(a.atttypid, a.atttypmod)
                    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = \(wanted.schema) AND c.relname = \(wanted.table) AND c.relkind IN ('r', 'p')
                      AND a.attnum > 0 AND NOT a.attisdropped
                    ORDER BY a.attnum
                    """, on: connection)
                var existing: [(String, String)] = []
                for row in rows { existing.append(try row.decode((String, String).self)) }
                if existing.isEmpty {
                    guard evolve else {
                        throw SinkError(code: .tableStopped, message: "table \(name) does not exist and schema.evolution=none; create it, or set schema.evolution=basic", topics: topics)
                    }
                    guard !wanted.keyColumns.isEmpty else {
                        throw SinkError(code: .tableStopped, message: "table \(name) has no primary key in the events; the replica needs one (set message.key.columns at the source)", topics: topics)
                    }
                    try await session.run(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(wanted.schema))"), on: connection)
                    try await session.run(PostgresQuery(unsafeSQL: Self.createTableSQL(wanted)), on: connection)
                    logger.info("Replica table created", metadata: ["sluice.sink.table": "\(name)"])
                    return wanted
                }
                let types = Dictionary(existing, uniquingKeysWith: { a, _ in a })
                var statements: [String] = []
                var stopped: [String] = []
                for column in wanted.columns {
                    guard let current = types[column.name] else {
                        statements.append("ALTER TABLE \(wanted.quotedName) ADD COLUMN \(quoteIdentifier(column.name)) \(column.type.sql)")
                        continue
                    }
                    let (compatible, widenTo) = column.type.compatibility(withExisting: current)
                    if !compatible {
                        stopped.append("column \(column.name) is \(current) in Postgres but the source now sends \(column.type.sql)")
                    } else if let widenTo {
                        statements.append("ALTER TABLE \(wanted.quotedName) ALTER COLUMN \(quoteIdentifier(column.name)) TYPE \(widenTo)")
                    }
                }
                if types[Self.positionColumn] == nil {
                    statements.append("ALTER TABLE \(wanted.quotedName) ADD COLUMN \(quoteIdentifier(Self.positionColumn)) text COLLATE \"C\" NOT NULL DEFAULT ''")
                }
                if !stopped.isEmpty {
                    throw SinkError(code: .tableStopped, message: "table \(name): an incompatible type change the sink will not apply by a silent cast: "
                        + stopped.joined(separator: "; ") + ". Migrate the column (ALTER TABLE … TYPE …) or drop the table to have it re-created, then restart the sink",
                        topics: topics)
                }
                if !statements.isEmpty && !evolve {
                    throw SinkError(code: .tableStopped, message: "table \(name) lacks columns the events carry and schema.evolution=none; add them, or set schema.evolution=basic", topics: topics)
                }
                for statement in statements {
                    try await session.run(PostgresQuery(unsafeSQL: statement), on: connection)
                    logger.info("Replica table changed", metadata: ["sluice.sink.table": "\(name)", "sluice.sink.ddl": "\(statement)"])
                }
                var layout = wanted
                // Columns keep their Postgres type where it is wider (values are cast to it).
                for index in layout.columns.indices {
                    if let current = types[layout.columns[index].name],
                       layout.columns[index].type.compatibility(withExisting: current) == (true, nil) {
                        layout.columns[index].type.sql = current
                    }
                }
                return layout
            }
        } catch {
            throw SinkError.postgres(error, doing: "checking table \(name)", topics: topics)
        }
    }

    static func createTableSQL(_ layout: PostgresTableLayout) -> String {
        var lines = layout.columns.map { column in
            quoteIdentifier(column.name) + " " + column.type.sql + (layout.keyColumns.contains(column.name) ? " NOT NULL" : "")
        }
        lines.append(quoteIdentifier(positionColumn) + " text COLLATE \"C\" NOT NULL")
        lines.append("PRIMARY KEY (" + layout.keyColumns.map(quoteIdentifier).joined(separator: ", ") + ")")
        return "CREATE TABLE \(layout.quotedName) (\n  " + lines.joined(separator: ",\n  ") + "\n)"
    }
}
