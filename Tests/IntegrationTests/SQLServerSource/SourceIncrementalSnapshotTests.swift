import Foundation
import NIOConcurrencyHelpers
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluiceSQLServer
@testable import SluiceSQLServerSource
import Testing

/// Incremental snapshots end to end: `sluice run` of the source (signals on its operations port) and a
/// second `sluice run` of the Postgres sink into a fresh schema, whose replica table carries the sink
/// tests' audit trigger (every row really written, with its position).
@Suite("SQL Server source: incremental snapshots (signals, watermarks, resume after kill -9)", .serialized)
struct SourceIncrementalSnapshotTests {
    static let customers = "id int NOT NULL PRIMARY KEY, name nvarchar(60) NOT NULL, score int NOT NULL"
    static let signalTable = "id varchar(42) NOT NULL PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL"
    static let rows = 400
    static let chunk = 20

    @Test("an incremental snapshot of dbo.customers while a writer updates and deletes the same keys: replica = source, no key goes back in time, a kill -9 resumes mid-table")
    func incrementalSnapshotUnderWritesAndKill() async throws {
        let world = try await SourceTestWorld.make("incr", tables: [("customers", Self.customers), ("debezium_signal", Self.signalTable)])
        try await world.withConnection { conn in
            var id = 1
            while id <= Self.rows {
                let upper = min(id + 199, Self.rows)
                let values = (id...upper).map { "(\($0), N'customer \($0)', \($0))" }.joined(separator: ", ")
                try await conn.execute(SQLServerQuery(sql: "INSERT INTO dbo.customers (id, name, score) VALUES \(values)"))
                id = upper + 1
            }
        }
        let schema = "t_" + UUID().uuidString.prefix(8).lowercased()
        let directory = try SluiceProcess.scratchDirectory("incr-\(world.prefix)")
        // no_data: the existing rows reach the replica only through the incremental snapshot.
        let sourceFile = try SluiceProcess.writeConnectorFile(name: "incr-src-\(world.prefix)", config: try world.properties([
            "snapshot.mode": "no_data", "table.include.list": "dbo.customers",
            "signal.data.collection": "\(world.database).dbo.debezium_signal", "incremental.snapshot.chunk.size": String(Self.chunk),
        ]), in: directory)
        let sinkFile = try SluiceProcess.writeSinkConnectorFile(name: "incr-sink-\(world.prefix)", config: [
            "connector.class": "postgres-sink", "topics": world.topic("customers"), "connection.url": try LocalWorld.env("SLUICE_PG_URL"),
            "table.name.format": "\(schema).${source.table}", "batch.size": "50",
        ], in: directory)
        let source = SluiceProcess(connectorFiles: [sourceFile], log: directory.appendingPathComponent("source.log"))
        let sink = SluiceProcess(connectorFiles: [sinkFile], log: directory.appendingPathComponent("sink.log"))
        let reader = try await TopicReader(topics: [world.topic("customers")])
        let collected = NIOLockedValueBox<[ChangeEvent]>([])
        @Sendable func drain() async throws {
            let read = try await reader.read(timeout: .milliseconds(300), until: { _ in false }).compactMap { try $0.event() }
            collected.withLockedValue { $0 += read }
        }
        @Sendable func events() -> [ChangeEvent] { collected.withLockedValue { $0 } }
        try source.start()
        try sink.start()
        let port = try await source.operationsPort()
        try await PostgresSinkTestWorld.withPostgres { client in
            // Once the source streams (no_data: from the LSN it found at start), a first streamed change
            // creates the replica table; the audit goes on before the snapshot.
            let streaming = try await eventually(timeout: .seconds(60)) { try await Self.ready(port) }
            try #require(streaming, "the source is not ready; log:\n\(source.logText.suffix(2000))")
            try await world.withConnection { conn in try await conn.execute("UPDATE dbo.customers SET score = -1 WHERE id = 1") }
            let created = try await eventually(timeout: .seconds(60)) {
                (try? await client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(schema).customers")).collect().count) == 1
            }
            try #require(created, "the sink did not create \(schema).customers; sink log:\n\(sink.logText.suffix(2000))")
            try await PostgresSinkKillTests.installAudit(client, schema: schema, table: "customers")

            // Malformed signals are refused with the problem named; a good one is accepted.
            let bad = try await Self.post(port, #"{"id": "x", "type": "execute-snapshot", "data": {"data-collections": ["customers"]}}"#)
            #expect(bad.status == 400 && bad.body.contains("database.schema.table"), "\(bad)")
            let accepted = try await Self.post(port, """
                {"id": "snap-\(world.prefix)", "type": "execute-snapshot", "data": {"data-collections": ["\(world.database).dbo.customers"], "type": "incremental"}}
                """)
            #expect(accepted.status == 202, "\(accepted)")

            // A writer updates and deletes the keys being snapshotted, meanwhile.
            async let writing: Void = world.withConnection { conn in
                for i in 0..<150 {
                    let id = (i * 37) % Self.rows + 1
                    if i % 10 == 9 {
                        try await conn.execute("DELETE FROM dbo.customers WHERE id = \(id)")
                    } else if i % 10 == 4 {
                        try await conn.execute("DELETE FROM dbo.customers WHERE id = \(id)")
                        try await conn.execute("INSERT INTO dbo.customers (id, name, score) VALUES (\(id), N'back \(i)', \(i))")
                    } else {
                        try await conn.execute("UPDATE dbo.customers SET score = score + 1000, name = N'writer \(i)' WHERE id = \(id)")
                    }
                    try await Task.sleep(for: .milliseconds(80))
                }
            }
            // kill -9 of the source once several chunks were emitted.
            let someChunks = try await eventually(timeout: .seconds(120)) {
                try await drain()
                return events().filter { $0.snapshot == .incremental }.count >= 4 * Self.chunk
            }
            try #require(someChunks, "no incremental chunks; source log:\n\(source.logText.suffix(3000))")
            source.killNine()
            let killedAt = try await world.withConnection { conn in
                try #require(try await conn.execute("SELECT sys.fn_cdc_get_max_lsn()").rows.first?[0].bytes.flatMap { LSN(bytes: $0) })
            }
            try source.start()
            try await writing

            let finished = try await eventually(timeout: .seconds(240)) { source.logText.contains("Incremental snapshot snap-\(world.prefix) complete") }
            try #require(finished, "the snapshot did not complete; source log:\n\(source.logText.suffix(3000))")
            let expected = try await world.withConnection { conn in
                try await conn.execute("SELECT id, name, score FROM dbo.customers ORDER BY id").rows.map { "\($0[0].int!)|\($0[1].string!)|\($0[2].int!)" }
            }
            func replica() async throws -> [String] {
                var rows: [String] = []
                for try await (id, name, score) in try await client.query(PostgresQuery(unsafeSQL: "SELECT id, name, score FROM \(schema).customers ORDER BY id")).decode((Int32, String, Int32).self) {
                    rows.append("\(id)|\(name)|\(score)")
                }
                return rows
            }
            let equal = try await eventually(timeout: .seconds(120)) { try await replica() == expected }
            try await drain()
            let log = source.logText
            source.stop()
            sink.stop()
            await reader.close()
            let difference = Set(try await replica()).symmetricDifference(expected).sorted().prefix(10)
            #expect(equal, "replica differs from the source: \(difference)")

            // Positions only move forward, per key, in what the sink wrote.
            let audit = try await PostgresSinkKillTests.auditedWrites(client, schema: schema)
            #expect(audit.doubled.isEmpty, "applied twice: \(audit.doubled.prefix(10))")
            #expect(audit.backwards.isEmpty, "went backwards: \(audit.backwards.prefix(10))")

            // The snapshot's events: op r, source.snapshot incremental; the restart resumed mid-table.
            let reads = events().filter { $0.op == .read }
            #expect(!reads.isEmpty && reads.allSatisfy { $0.snapshot == .incremental })
            let marker = "Incremental snapshot snap-\(world.prefix) resuming at dbo.customers after key {\"id\":"
            let line = try #require(log.components(separatedBy: "\n").first { $0.contains(marker) }, "no resume line:\n\(log.suffix(3000))")
            let resumeKey = try #require(Int(line.components(separatedBy: marker)[1].prefix { $0.isNumber }))
            let afterRestart = reads.filter { $0.position.commitLSN > killedAt }.compactMap { $0.key["id"]?.int64Value }
            print("incremental snapshot: \(reads.count) r events, resumed after id \(resumeKey), \(afterRestart.count) read after the restart, audit \(audit.writes) writes")
            #expect(resumeKey >= Self.chunk && resumeKey < Self.rows, "resumed mid-table")
            #expect(afterRestart.allSatisfy { $0 > resumeKey }, "chunks up to the stored key are not read again")
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Whether `/health/ready` on `port` answers 200.
    static func ready(_ port: Int) async throws -> Bool {
        guard let (_, response) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health/ready")!) else { return false }
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    /// POSTs `body` to `/signals` on the source's operations port.
    static func post(_ port: Int, _ body: String) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/signals")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}
