import Foundation
import SluiceCore
import SluiceKafka
import SluiceSQLServer
@testable import SluiceSQLServerSource
import Testing

@Suite("SQL Server source: purged offsets, capture-instance switches, a stopped capture job", .serialized)
struct SourceFailureTests {
    static let table = "id int NOT NULL PRIMARY KEY, name nvarchar(100) NULL"

    /// Waits until the capture job harvested `count` change rows of `instance`; returns the max LSN.
    static func harvested(_ world: SourceTestWorld, instance: String = "dbo_customers", count: Int) async throws -> LSN {
        let done = try await eventually {
            try await world.withConnection { conn in
                try await conn.execute("SELECT COUNT(*) FROM cdc.\(identifier: instance + "_CT")").rows.first?[0].int ?? 0
            } >= count
        }
        try #require(done, "the capture job did not harvest \(count) rows of \(instance)")
        return try await world.withConnection { conn in
            try #require(try await conn.execute("SELECT sys.fn_cdc_get_max_lsn()").rows.first?[0].bytes.flatMap { LSN(bytes: $0) })
        }
    }

    @Test("changes purged by the cleanup job before they were read stop the source with a clear error (fail) or re-snapshot (resnapshot)")
    func purgedOffsetIsDetected() async throws {
        let world = try await SourceTestWorld.make("purge", tables: [("customers", Self.table)])
        let reader = try await TopicReader(topics: [world.topic("customers")])
        try await world.withConnector(SourceConfigurationBox(value: try world.configuration())) { health in
            try #require(try await eventually { health.isReady }, "the source did not start streaming")
            try await world.withConnection { conn in try await conn.execute("INSERT INTO dbo.customers VALUES (1, N'read')") }
            #expect(try await reader.read { !$0.isEmpty }.count == 1)
        }
        // While the source is stopped: more changes, then a cleanup that purges them.
        try await world.withConnection { conn in
            try await conn.execute("INSERT INTO dbo.customers VALUES (2, N'purged before it was read')")
        }
        let purgedLSN = try await Self.harvested(world, count: 2)
        // A later commit time: SQL Server's cleanup moves the low end to the smallest LSN sharing the
        // low-water mark's commit time.
        try await Task.sleep(for: .milliseconds(50))
        try await world.withConnection { conn in try await conn.execute("INSERT INTO dbo.customers VALUES (3, N'kept')") }
        let lowWaterMark = try await Self.harvested(world, count: 3)
        try await world.withConnection { conn in
            try await conn.execute("EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_customers', @low_water_mark = \(lowWaterMark.bytes, as: .binary(10)), @threshold = 5000")
            let start = try await conn.execute("SELECT start_lsn FROM cdc.change_tables WHERE capture_instance = N'dbo_customers'").rows.first?[0].bytes.flatMap { LSN(bytes: $0) }
            try #require((start ?? .zero) > purgedLSN, "the cleanup did not move the instance's start_lsn past id 2's change")
        }
        let failing = SourceConfigurationBox(value: try world.configuration(["offset.purged.policy": "fail"]))
        try await world.withConnector(failing) { health in
            let stopped = try await eventually {
                health.snapshot.values.contains { $0.reason?.contains("purged") == true }
            }
            #expect(stopped, "health: \(health.readinessJSON.serializedString)")
            let reason = health.snapshot.values.compactMap(\.reason).joined()
            #expect(reason.contains("dbo.customers") && reason.contains("offset.purged.policy=resnapshot"))
            #expect(!health.isReady)
            let extra = try await reader.read(timeout: .seconds(2)) { _ in false }
            #expect(extra.isEmpty, "nothing after the stored position may be published past a gap")
        }
        let resnapshot = SourceConfigurationBox(value: try world.configuration(["offset.purged.policy": "resnapshot"]))
        try await world.withConnector(resnapshot) { _ in
            let reads = try await reader.read { $0.count >= 3 }
            let events = try reads.compactMap { try $0.event() }
            #expect(events.allSatisfy { $0.op == .read })
            #expect(Set(events.compactMap { $0.after?["id"]?.int64Value }) == [1, 2, 3])
        }
        await reader.close()
    }

    @Test("a second capture instance (schema change) takes over at its start LSN: no gap, no duplicate, an ALTER schema event")
    func captureInstanceSwitch() async throws {
        let world = try await SourceTestWorld.make("switch", tables: [("customers", Self.table)])
        let reader = try await TopicReader(topics: [world.topic("customers")])
        let schemaReader = try await TopicReader(topics: [TopicNamer(prefix: world.prefix).schemaChangeTopic])
        try await world.withConnector(SourceConfigurationBox(value: try world.configuration())) { health in
            try #require(try await eventually { health.isReady }, "the source did not start streaming")
            try await world.withConnection { conn in
                try await conn.execute("INSERT INTO dbo.customers VALUES (1, N'before')")
                try await conn.execute("ALTER TABLE dbo.customers ADD tier nvarchar(10) NULL")
                try await conn.execute("INSERT INTO dbo.customers (id, name, tier) VALUES (2, N'between', N'gold')")
                try await conn.execute("EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'customers', @role_name = NULL, @capture_instance = N'dbo_customers_v2'")
                try await conn.execute("INSERT INTO dbo.customers (id, name, tier) VALUES (3, N'after', N'silver')")
                try await conn.execute("UPDATE dbo.customers SET tier = N'bronze' WHERE id = 1")
            }
            let messages = try await reader.read { $0.count >= 4 }
            let events = try messages.compactMap { try $0.event() }
            try #require(events.count == 4, "got \(events.map { "\($0.op.rawValue)\($0.key)" })")
            #expect(events.map(\.op) == [.create, .create, .create, .update])
            #expect(events.compactMap { $0.after?["id"]?.int64Value } == [1, 2, 3, 1])
            // The old instance lacks the new column; the new one carries it.
            #expect(events[1].after?["tier"] == nil)
            #expect(events[2].after?["tier"] == .string("silver") && events[3].after?["tier"] == .string("bronze"))
            let positions = events.map(\.position)
            #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 })
            let extra = try await reader.read(timeout: .seconds(2)) { _ in false }
            #expect(extra.isEmpty, "duplicates across the switch: \(extra.count)")
        }
        let schemaEvents = try await schemaReader.read(timeout: .seconds(10)) { messages in
            messages.contains { ($0.value.map { String(decoding: $0, as: UTF8.self) } ?? "").contains("\"ALTER\"") }
        }
        #expect(schemaEvents.contains { ($0.value.map { String(decoding: $0, as: UTF8.self) } ?? "").contains("dbo_customers_v2") })
        await reader.close()
        await schemaReader.close()
    }

    @Test("a database without snapshot isolation stops the snapshot with the ALTER DATABASE fix, not a retry loop")
    func snapshotIsolationNotAllowed() async throws {
        let world = try await SourceTestWorld.make("noiso", tables: [("customers", Self.table)], allowSnapshotIsolation: false)
        try await world.withConnector(SourceConfigurationBox(value: try world.configuration())) { health in
            let stopped = try await eventually {
                health.snapshot.values.contains { if case .down(let r) = $0 { r.contains("ALLOW_SNAPSHOT_ISOLATION ON") } else { false } }
            }
            #expect(stopped, "health: \(health.readinessJSON.serializedString)")
        }
        let readCommitted = SourceConfigurationBox(value: try world.configuration(["snapshot.isolation.mode": "read_committed"]))
        try await world.withConnector(readCommitted) { health in
            let ready = try await eventually { health.isReady }
            #expect(ready, "health: \(health.readinessJSON.serializedString)")
        }
    }

    @Test("a captured column of an unsupported type (xml) stops that database with README's message: health down, no retry loop")
    func unsupportedColumnTypeIsFatal() async throws {
        let world = try await SourceTestWorld.make("xmltype", tables: [("docs", "id int NOT NULL PRIMARY KEY, body xml NULL")])
        try await world.withConnector(SourceConfigurationBox(value: try world.configuration())) { health in
            let component = "src-\(world.prefix)"
            let stopped = try await eventually {
                health.snapshot.values.contains { if case .down(let r) = $0 { !r.hasPrefix("retrying") } else { false } }
            }
            #expect(stopped, "health: \(health.readinessJSON.serializedString)")
            let reason = health.snapshot.values.compactMap(\.reason).joined()
            // README "Types": other types stop the source with a message naming the column and the fix.
            #expect(reason.contains("dbo.docs") && reason.contains("column body has type xml, which Sluice does not capture")
                    && reason.contains("@captured_column_list"), "reason: \(reason)")
            // No retry loop: across several backoff periods (200 ms … 1 s) the database stays down for the
            // same reason, never starting again nor "retrying in …".
            let deadline = ContinuousClock.now + .seconds(3)
            while ContinuousClock.now < deadline {
                // The database's component (the connector's liveness membership stays up: the process runs on).
                let statuses = health.snapshot.filter {
                    ($0.key.contains(component) || $0.key.hasPrefix("source.")) && !$0.key.hasSuffix(".liveness")
                }.values
                #expect(statuses.allSatisfy { $0 == .down(reason) }, "health changed: \(health.readinessJSON.serializedString)")
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(!health.isReady)
        }
    }

    @Test("a stopped capture job (SQL Server Agent down) shows in health while the heartbeat changes the source; it recovers when the job restarts")
    func stoppedCaptureJobIsReported() async throws {
        let world = try await SourceTestWorld.make("agent", tables: [("customers", Self.table), ("heartbeat", "id int NOT NULL PRIMARY KEY, ts datetime2(3) NULL")])
        try await world.withConnection { conn in try await conn.execute("INSERT INTO dbo.heartbeat VALUES (1, SYSUTCDATETIME())") }
        let configuration = SourceConfigurationBox(value: try world.configuration([
            "table.include.list": "dbo.customers", "heartbeat.interval.ms": "300",
            "heartbeat.action.query": "UPDATE dbo.heartbeat SET ts = SYSUTCDATETIME() WHERE id = 1",
            "capture.job.stall.timeout.ms": "2000",
        ]))
        try await world.withConnector(configuration) { health in
            #expect(try await eventually { health.isReady })
            try await world.withConnection { conn in try await conn.execute("EXEC sys.sp_cdc_stop_job @job_type = N'capture'") }
            let degraded = try await eventually(timeout: .seconds(20)) {
                health.snapshot.values.contains { if case .degraded(let r) = $0 { r.contains("SQL Server Agent") } else { false } }
            }
            #expect(degraded, "health: \(health.readinessJSON.serializedString)")
            try await world.withConnection { conn in try await conn.execute("EXEC sys.sp_cdc_start_job @job_type = N'capture'") }
            #expect(try await eventually(timeout: .seconds(20)) { health.isReady }, "health: \(health.readinessJSON.serializedString)")
        }
    }
}
