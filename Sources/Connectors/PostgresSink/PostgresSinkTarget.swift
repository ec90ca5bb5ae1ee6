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
/// - Upserts only win over an older stored position: `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE
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
        self.logger = logger
        self.lineage = lineage
    }

    /// A target with its own session for `configuration`.
    public convenience init(configuration: PostgresSinkConfiguration, logger: Logger, lineage: LineageRun? = nil) {
        self.init(configuration: configuration, session: PostgresSession(configuration, logger: logger), logger: logger, lineage: lineage)
    }

    /// Closes the Postgres session.
    public func close() async { await session.close() }

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

    public func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome {
        try await ensureBookkeeping()
        // Group by target table, keeping event order.
        var groups: [(schema: String, table: String, name: String, records: [SinkRecord], topics: Set<String>)] = []
        var groupIndex: [String: Int] = [:]
        // Consecutive records nearly always share topic and table: resolve the group once per run of them.
        var run: (topic: String, table: TableID, group: Int)?
        for record in batch.records {
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
                groups.append((target.schema, target.table, target.name, [], []))
            }
            groups[group].records.append(record)
            groups[group].topics.insert(record.message.topic)
            run = (record.message.topic, record.event.table, group)
        }
        // Schema first (its own committed DDL), then every statement of the batch in one transaction.
        var statements: [(table: String, topics: [String], upsert: PostgresQuery?, delete: PostgresQuery?, upserts: Int)] = []
        for entry in groups {
            let name = entry.name
            let topics = entry.topics.sorted()
            let layout = try await ensureTable(schema: entry.schema, table: entry.table, records: entry.records, topics: topics)
            let effect = NetEffect(entry.records)
            do {
                statements.append((name, topics, try upsertQuery(effect.upserts, layout: layout), try deleteQuery(effect.deletes, layout: layout),
                                   effect.upserts.count))
            } catch {
                throw SinkError(code: .recordRejected, message: "an event's value does not fit table \(name)", underlying: "\(error)")
            }
        }
        let offsets = offsetsQuery(batch.nextOffsets)
        let session = self.session
        let prepared = statements
        let outcome: SinkApplyOutcome
        do {
            outcome = try await session.withTransaction { connection in
                var outcome = SinkApplyOutcome()
                for statement in prepared {
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
        await pruneDeletedIfDue()
        return outcome
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
