import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluiceSinkKit

/// Applies change events to Postgres 1:1 and keeps the consumer offsets next to the rows.
///
/// - Every replica table gets the source's columns and primary key plus `__sluice_position`
///   (`SourcePosition.sortKey`, `COLLATE "C"`), the position of the event that wrote the row.
/// - Upserts only win over an older stored position: `INSERT … SELECT unnest(…), … ON CONFLICT DO UPDATE
///   … WHERE stored position < new position`.
/// - A deleted key keeps its position in `<offsets.schema>.sluice_deleted` (table, key JSON, position), so
///   an older duplicate of the row cannot resurrect it; an upsert is skipped when that table holds a
///   position at least as new. (Entries stay after a re-insert: they are harmless, because the row's own
///   position then guards it.) Entries older than `deleted.retention.hours` are pruned.
/// - `<offsets.schema>.sluice_offsets` (group, topic, partition → next offset) is written in the same
///   transaction as the rows.
public final class PostgresSinkTarget: SinkTarget {
    public let configuration: PostgresSinkConfiguration
    public let session: PostgresSession
    /// The sessions that apply a batch's lanes in parallel (`apply.connections`); the first is `session`,
    /// which also runs the DDL, the offsets reads and the pruning.
    let sessions: [PostgresSession]
    let logger: Logger
    let layouts = NIOLockedValueBox<[String: PostgresTableLayout]>([:])
    let bookkeepingReady = NIOLockedValueBox(false)
    /// When `sluice_deleted` was last pruned (nil: not yet in this process).
    let lastPrune = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    static let pruneInterval: Duration = .seconds(600)
    /// `table.name.format` applied, per topic and source table (it was a quarter of the sink's CPU when
    /// computed for every record).
    let targetNames = NIOLockedValueBox<[TargetKey: TargetName]>([:])
    /// Receives the replica tables as the sink learns their layouts (RUNNING); nil emits no lineage.
    let lineage: LineageRun?
    /// The tables whose layout this process has learned (`schema.table` → topics and layout), for lineage.
    let lineageTables = NIOLockedValueBox<[String: (topics: Set<String>, layout: PostgresTableLayout)]>([:])

    struct TargetKey: Hashable {
        var topic: String
        var table: TableID
    }

    struct TargetName {
        var schema: String
        var table: String
        /// `schema.table`.
        var name: String
    }

    func targetName(for table: TableID, topic: String) -> TargetName {
        let key = TargetKey(topic: topic, table: table)
        if let known = targetNames.withLockedValue({ $0[key] }) { return known }
        let target = configuration.targetTable(for: table, topic: topic)
        let name = TargetName(schema: target.schema, table: target.table, name: "\(target.schema).\(target.table)")
        targetNames.withLockedValue { names in
            if names.count >= 10_000 { names.removeAll() }
            names[key] = name
        }
        return name
    }

    public init(configuration: PostgresSinkConfiguration, session: PostgresSession, logger: Logger, lineage: LineageRun? = nil) {
        self.configuration = configuration
        self.session = session
        self.sessions = [session] + (1..<max(1, configuration.applyConnections)).map { _ in PostgresSession(configuration, logger: logger) }
        self.logger = logger
        self.lineage = lineage
    }

    /// A target with its own session for `configuration`.
    public convenience init(configuration: PostgresSinkConfiguration, logger: Logger, lineage: LineageRun? = nil) {
        self.init(configuration: configuration, session: PostgresSession(configuration, logger: logger), logger: logger, lineage: lineage)
    }

    /// Closes the Postgres sessions.
    public func close() async {
        for session in sessions { await session.close() }
    }

    var offsetsTable: String { quoteIdentifier(schema: configuration.offsetsSchema, table: "sluice_offsets") }
    var deletedTable: String { quoteIdentifier(schema: configuration.offsetsSchema, table: "sluice_deleted") }

    // MARK: ConsumerOffsetStore

    public func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        try await ensureBookkeeping()
        let topics = Array(Set(partitions.map(\.topic))).sorted()
        let wanted = Set(partitions)
        let query: PostgresQuery =
            "SELECT topic, \"partition\", next_offset FROM \(unescaped: offsetsTable) WHERE group_id = \(configuration.groupID) AND topic = ANY(\(topics))"
        let session = self.session
        do {
            return try await session.withConnection { connection in
                let rows = try await session.run(query, on: connection)
                var offsets: [TopicPartition: Int64] = [:]
                for row in rows {
                    let (topic, partition, next) = try row.decode((String, Int32, Int64).self)
                    let tp = TopicPartition(topic: topic, partition: partition)
                    if wanted.contains(tp) { offsets[tp] = next }
                }
                return offsets
            }
        } catch {
            throw SinkError.postgres(error, doing: "reading the stored offsets", topics: [])
        }
    }

    // MARK: SinkApplier

    /// One target table's records of a batch, in event order.
    struct TableGroup: Sendable {
        var schema: String
        var table: String
        /// `schema.table`.
        var name: String
        var records: [SinkRecord]
        var topics: Set<String>
    }

    public func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome {
        try await apply(batch, prepared: nil)
    }

    public func apply(_ batch: SinkBatch, prepared: SinkPreparedBatch?) async throws -> SinkApplyOutcome {
        try await ensureBookkeeping()
        let prepared = prepared?.work as? PreparedBatch
        let groups = prepared?.groups ?? tableGroups(batch.records)
        // Schema first (its own committed DDL, on the first session), for the whole batch.
        var layouts: [String: PostgresTableLayout] = [:]
        for entry in groups {
            layouts[entry.name] = try await ensureTable(schema: entry.schema, table: entry.table, records: entry.records, topics: entry.topics.sorted())
        }
        let plan = ApplyLanes(records: groups.lazy.flatMap { group in group.records.lazy.map { (partition: $0.topicPartition, table: group.name) } },
                              partitions: batch.nextOffsets.keys, connections: sessions.count)
        let outcome: SinkApplyOutcome
        if plan.lanes.count <= 1 {
            outcome = try await applyLane(groups, layouts: layouts, offsets: batch.nextOffsets, session: session,
                                          prepared: prepared?.statements ?? [:])
        } else {
            outcome = try await applyLanes(plan, groups: groups, layouts: layouts, offsets: batch.nextOffsets)
        }
        await pruneDeletedIfDue()
        return outcome
    }

    /// The batch's records grouped by target table, keeping event order.
    func tableGroups(_ records: [SinkRecord]) -> [TableGroup] {
        var groups: [TableGroup] = []
        var groupIndex: [String: Int] = [:]
        // Consecutive records nearly always share topic and table: resolve the group once per run of them.
        var run: (topic: String, table: TableID, group: Int)?
        for record in records {
            if let run, run.topic == record.message.topic, run.table == record.event.table {
                groups[run.group].records.append(record)
                continue
            }
            let target = targetName(for: record.event.table, topic: record.message.topic)
            let group: Int
            if let known = groupIndex[target.name] {
                group = known
            } else {
                group = groups.count
                groupIndex[target.name] = group
                groups.append(TableGroup(schema: target.schema, table: target.table, name: target.name, records: [], topics: []))
            }
            groups[group].records.append(record)
            groups[group].topics.insert(record.message.topic)
            run = (record.message.topic, record.event.table, group)
        }
        return groups
    }

    /// Applies each lane of `plan` in its own transaction on its own session, all at once. Every lane
    /// runs to its end; then the first failure is thrown (a table that cannot be written before a refused
    /// record before anything else), and the runtime retries the batch: the lanes that committed are
    /// then stale (their positions are stored) and write nothing twice.
    func applyLanes(_ plan: ApplyLanes, groups: [TableGroup], layouts: [String: PostgresTableLayout],
                    offsets: [TopicPartition: Int64]) async throws -> SinkApplyOutcome {
        var laneOf: [TopicPartition: Int] = [:]
        for (lane, partitions) in plan.lanes.enumerated() {
            for partition in partitions { laneOf[partition] = lane }
        }
        var laneGroups = [[TableGroup]](repeating: [], count: plan.lanes.count)
        for group in groups {
            var split = [[SinkRecord]](repeating: [], count: plan.lanes.count)
            for record in group.records { split[laneOf[record.topicPartition] ?? 0].append(record) }
            for (lane, records) in split.enumerated() where !records.isEmpty {
                laneGroups[lane].append(TableGroup(schema: group.schema, table: group.table, name: group.name, records: records,
                                                   topics: Set(records.lazy.map(\.message.topic))))
            }
        }
        var laneOffsets = [[TopicPartition: Int64]](repeating: [:], count: plan.lanes.count)
        for (partition, next) in offsets { laneOffsets[laneOf[partition] ?? 0][partition] = next }
        let sessions = self.sessions
        let results = await withTaskGroup(of: Result<SinkApplyOutcome, any Error>.self) { tasks in
            for lane in plan.lanes.indices {
                let (groups, offsets) = (laneGroups[lane], laneOffsets[lane])
                tasks.addTask {
                    do {
                        return .success(try await self.applyLane(groups, layouts: layouts, offsets: offsets, session: sessions[lane]))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<SinkApplyOutcome, any Error>] = []
            for await result in tasks { results.append(result) }
            return results
        }
        var outcome = SinkApplyOutcome()
        var failures: [any Error] = []
        for result in results {
            switch result {
            case .success(let lane):
                outcome.applied.merge(lane.applied, uniquingKeysWith: +)
                outcome.stale += lane.stale
            case .failure(let error):
                failures.append(error)
            }
        }
        func rank(_ error: any Error) -> Int {
            switch (error as? SinkError)?.code {
            case .tableStopped?: 0
            case .recordRejected?: 1
            default: 2
            }
        }
        if let failure = failures.min(by: { rank($0) < rank($1) }) { throw failure }
        return outcome
    }

    /// The groups' net effects and `offsets` in one transaction on `session`. A group's statements come
    /// from `prepared` when they were built for the table's layout as it is now, else they are built here.
    func applyLane(_ groups: [TableGroup], layouts: [String: PostgresTableLayout], offsets: [TopicPartition: Int64],
                   session: PostgresSession, prepared: [String: TableStatements] = [:]) async throws -> SinkApplyOutcome {
        var statements: [TableStatements] = []
        for entry in groups {
            guard let layout = layouts[entry.name] else { continue }
            if let ready = prepared[entry.name], ready.fits(layout) {
                statements.append(ready)
            } else {
                statements.append(try tableStatements(entry, layout: layout))
            }
        }
        let offsets = offsetsQuery(offsets)
        let built = statements
        do {
            return try await session.withTransaction { connection in
                var outcome = SinkApplyOutcome()
                for statement in built {
                    do {
                        var written = 0
                        if let delete = statement.delete { written += try await Self.count(delete, on: connection, session: session) }
                        if let upsert = statement.upsert {
                            let upserted = try await Self.count(upsert, on: connection, session: session)
                            written += upserted
                            outcome.stale += statement.upserts - upserted
                        }
                        outcome.applied[statement.table, default: 0] += written
                    } catch {
                        throw SinkError.postgres(error, doing: "applying to \(statement.table)", topics: statement.topics)
                    }
                }
                if let offsets {
                    do {
                        try await session.run(offsets, on: connection)
                    } catch {
                        throw SinkError.postgres(error, doing: "storing the offsets", topics: [])
                    }
                }
                return outcome
            }
        } catch {
            throw SinkError.postgres(error, doing: "applying a batch", topics: [])
        }
    }

    /// Every `pruneInterval`, after a committed batch: drops `sluice_deleted` entries older than
    /// `deleted.retention.hours`. A failure is logged and tried again next time (the batch is applied).
    func pruneDeletedIfDue() async {
        let hours = configuration.deletedRetentionHours
        guard hours > 0 else { return }
        let now = ContinuousClock.now
        let due = lastPrune.withLockedValue { last in
            guard last.map({ now - $0 >= Self.pruneInterval }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        let query: PostgresQuery = """
            WITH pruned AS (DELETE FROM \(unescaped: deletedTable) WHERE deleted_at < now() - make_interval(hours => \(Int32(hours))) RETURNING 1)
            SELECT count(*) FROM pruned
            """
        do {
            let pruned = try await session.withConnection { connection in try await Self.count(query, on: connection, session: session) }
            if pruned > 0 {
                logger.info("Pruned sluice_deleted entries older than deleted.retention.hours=\(hours)", metadata: [SinkLoggingKeys.count: "\(pruned)"])
            }
        } catch {
            logger.warning("Could not prune sluice_deleted; trying again in \(Self.pruneInterval)", metadata: [SinkLoggingKeys.error: "\(error)"])
        }
    }

    static func count(_ query: PostgresQuery, on connection: PostgresConnection, session: PostgresSession) async throws -> Int {
        var total = 0
        for row in try await session.run(query, on: connection) { total += Int(try row.decode(Int64.self)) }
        return total
    }
}
