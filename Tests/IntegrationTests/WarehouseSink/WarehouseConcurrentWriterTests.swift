import PostgresNIO
import SluiceCore
import SluiceKafka
import SluiceSinkKit
import SluiceWarehouseSink
import Testing

/// Two writers apply the same events to the warehouse at once: a second sink pointed at the same
/// warehouse, or a partition's previous owner still finishing its batch after a rebalance. The writer's
/// statements skip what is already there, but only what was committed when they read: versions the
/// other writer commits in between meet the unique constraints. Found by `make chaos` (seed 31): a
/// pipeline left running by an aborted run wrote the same versions, and the warehouse sink dead-lettered
/// 45 valid events as `uq_dim_*_version_id` violations.
@Suite("Warehouse sink: a concurrent writer of the same versions")
struct WarehouseConcurrentWriterTests {
    typealias W = WarehouseTestWorld

    @Test("versions another writer commits mid-batch make the batch retry (not refuse); the retry skips them, nothing doubled")
    func versionsCommittedByAnotherWriterMidBatchAreRetriedNotRefused() async throws {
        let base = W.keyBase()
        let customer = base + 1
        let events = [
            W.customer(.create, customer, n: 1, at: W.t0, address: "Street 1"),
            W.customer(.update, customer, n: 2, at: W.t0 + 1000, address: "Street 2"),
            W.application(.create, base + 2, customer: customer, status: "submitted", n: 3, at: W.t0 + 2000),
        ]
        let partition = TopicPartition(topic: "credit.CreditStaging.dbo.customers", partition: 0)
        let batch = SinkBatch(records: events.enumerated().map { offset, event in
            SinkRecord(event: event, schema: nil, message: KafkaMessage(topic: partition.topic, partition: 0, offset: Int64(offset), key: nil, value: nil))
        }, nextOffsets: [partition: Int64(events.count)])
        let group = "sluice-warehouse-concurrent-\(base)"
        let second = WarehouseTarget(configuration: try W.configuration(), model: W.model, group: group, logger: W.logger)
        do {
            try await race(events: events, batch: batch, second: second, base: base, partition: partition, group: group)
        } catch {
            await second.close()
            throw error
        }
        await second.close()
    }

    private func race(events: [ChangeEvent], batch: SinkBatch, second: WarehouseTarget, base: Int64, partition: TopicPartition,
                      group: String) async throws {
        let customer = base + 1
        let outcome: Result<SinkApplyOutcome, any Error> = try await PostgresSinkTestWorld.withPostgres { postgres in
            try await W.withConnection { first in
                // The first writer has written the versions and not committed yet …
                try await first.execute("BEGIN TRANSACTION")
                _ = try await W.writer.apply(try WarehouseBatch(events: events, model: W.model), on: first)
                // A savepoint names its session in pg_stat_activity (its last statement there; the batch's
                // values are bound parameters, not in the statements' text).
                _ = try await first.execute("SAVE TRANSACTION \(unsafeRaw: Self.marker(base))")
                // … when the second one applies the same batch; it waits on the first one's rows (SQL Server:
                // in its locked read; the emulator, whose table hints are accepted but not enforced: in its
                // insert), and the first one commits.
                async let secondApply: Result<SinkApplyOutcome, any Error> = {
                    do { return .success(try await second.apply(batch)) } catch { return .failure(error) }
                }()
                try await waitUntilBlocked(postgres, by: Self.marker(base))
                try await first.execute("COMMIT TRANSACTION")
                return await secondApply
            }
        }
        // Without the retry the sink would dead-letter these valid events one by one.
        switch outcome {
        case .success:
            break  // a server that serialises the two (SQL Server's HOLDLOCK) lets the second one skip them at once
        case .failure(let error):
            let sinkError = try #require(error as? SinkError, "\(error)")
            #expect(sinkError.code == .transient, "the batch was refused, not retried: \(sinkError)")
            // SinkKit retries a transient failure; the retry finds the versions and skips them.
            let retried = try await second.apply(batch)
            #expect(retried.stale == events.count, "\(retried)")
            #expect(retried.applied.values.reduce(0, +) == 0, "\(retried)")
        }
        try await W.withConnection { connection in
            let versions = try await W.customerVersions(customer...customer, on: connection)
            #expect(versions.map(\.address) == ["Street 1", "Street 2"])
            #expect(versions.map(\.isCurrent) == [false, true])
            let applications = try await connection.execute(
                "SELECT count(*) FROM dw.dim_application WHERE application_id = \(Int32(base + 2))").rows.first?[0].int64
            #expect(applications == 1)
            let stored = try await WarehouseOffsetStore(schema: "dw", group: group).load([partition], on: connection)
            #expect(stored == [partition: Int64(events.count)])
        }
    }

    static func marker(_ base: Int64) -> String { "first_writer_\(base)" }

    /// Until a session of the emulator's store (or SQL Server's, through the emulator it is the same
    /// Postgres) waits on a lock on dim_customer held by the first writer's session (the one whose last
    /// statement was the savepoint `marker`).
    private func waitUntilBlocked(_ postgres: PostgresClient, by marker: String) async throws {
        let pattern = "%\(marker)%"
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            let rows = try await postgres.query("""
                SELECT count(*) FROM pg_stat_activity AS waiting, pg_stat_activity AS first
                WHERE waiting.wait_event_type = 'Lock' AND waiting.datname LIKE 'mssql\\_%'
                  AND waiting.query LIKE '%dim_customer%' AND first.query LIKE \(pattern)
                  AND first.pid = ANY(pg_blocking_pids(waiting.pid))
                """)
            for try await (count,) in rows.decode((Int64,).self) where count > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the second writer never waited on the first one's rows: the test proved nothing")
    }
}
