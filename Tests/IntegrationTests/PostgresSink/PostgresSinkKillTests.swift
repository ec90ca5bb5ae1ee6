import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import Testing

/// The Postgres sink as an operator runs it, `sluice run replica.json`, killed with SIGKILL at random
/// points while events keep arriving. An audit trigger on the replica table records every row the sink
/// really wrote (a trigger row commits or rolls back with the sink's transaction), so a change applied
/// twice would show up as the same key and position written twice.
@Suite("Postgres sink: kill -9 of `sluice run` at random points", .serialized)
struct PostgresSinkKillTests {
    typealias World = PostgresSinkTestWorld

    @Test("kill -9 while applying, then restart: the replica equals the source and no change is applied twice")
    func killNineLosesNothingAndDoublesNothing() async throws {
        let scenario = try await World.Scenario("pgsink-kill", changes: 2400, ids: 1...120)
        let (topic, schema, group, messages, end, expectedText) =
            (scenario.topic, scenario.schema, scenario.group, scenario.messages, scenario.end, scenario.expectedText)

        let directory = try SluiceProcess.scratchDirectory(group)
        let connectorFile = try SluiceProcess.writeSinkConnectorFile(name: group, config: [
            "connector.class": "postgres-sink", "topics": topic, "connection.url": try LocalWorld.env("SLUICE_PG_URL"),
            "table.name.format": "\(schema).${source.table}", "batch.size": "25",
        ], in: directory)
        let process = SluiceProcess(connectorFiles: [connectorFile], log: directory.appendingPathComponent("sluice.log"))
        let producer = try KafkaTestWorld.makeProducer()

        try await World.withPostgres { client in
            // The first event creates the table; the audit trigger goes on before anything else is published.
            try await producer.enqueue(topic: topic, key: messages[0].key, value: messages[0].value, partition: 0)
            try await producer.waitForAllDeliveries()
            try process.start()
            try await World.waitForStoredOffsets(client, group: group, topics: [topic: 1], timeout: .seconds(60))
            try await Self.installAudit(client, schema: schema)

            // The rest arrives in bursts while the sink is killed four times: once during start-up, then
            // each time within 1.5 s after it stored a new offset.
            // (The bursts come slowly until the kills are done, so the sink never runs out of work.)
            let killing = NIOLockedValueBox(true)
            async let publishing: Void = Self.publish(messages[1...], to: topic, with: producer, burst: 40) {
                if killing.withLockedValue({ $0 }) { try await Task.sleep(for: .milliseconds(500)) }
            }
            let storedAtKill = try await process.killAndRestart(times: 4) { try await World.storedOffsets(client, group: group)[topic] ?? 0 }
            killing.withLockedValue { $0 = false }
            try await publishing
            await producer.shutdown()
            let caughtUp: Bool
            do {
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end], timeout: .seconds(120))
                caughtUp = true
            } catch {
                caughtUp = false
            }
            process.stop()
            try #require(caughtUp, "the sink did not store offset \(end); log tail:\n\(process.logText.suffix(4000))")
            // The later kills hit a sink that was applying: offsets moved on between them.
            #expect(Array(storedAtKill.dropFirst()) == storedAtKill.dropFirst().sorted() && Set(storedAtKill.dropFirst()).count == 3,
                    "stored offsets at the kills: \(storedAtKill)")

            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)

            // Every real write: the same (key, position) never twice, and per key only ever forward.
            let audit = try await Self.auditedWrites(client, schema: schema)
            #expect(audit.doubled.isEmpty, "applied twice: \(audit.doubled.prefix(10))")
            #expect(audit.backwards.isEmpty, "went backwards: \(audit.backwards.prefix(10))")
            #expect(audit.writes >= 120, "the audit saw \(audit.writes) writes")
            // Each restart that got as far as an assignment resumed from the offsets Postgres stored.
            #expect(process.logCount("Partitions assigned; starting at the offsets stored in the target") >= 2)
            print("Postgres sink kill -9 test: stored offsets at the kills \(storedAtKill) of \(end)")
            try await World.dropSchema(client, schema)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    static func publish(_ messages: ArraySlice<(key: [UInt8], value: [UInt8]?)>, to topic: String, with producer: KafkaProducer,
                        burst: Int, between: @Sendable () async throws -> Void) async throws {
        var index = messages.startIndex
        while index < messages.endIndex {
            for message in messages[index..<min(index + burst, messages.endIndex)] {
                try await producer.enqueue(topic: topic, key: message.key, value: message.value, partition: 0)
            }
            try await producer.waitForAllDeliveries()
            index += burst
            try await between()
        }
    }

    /// What the audit table recorded: how many rows were written, which (key, position) were written
    /// more than once, and where a key's position went backwards.
    static func auditedWrites(_ client: PostgresClient, schema: String) async throws -> (writes: Int, doubled: [String], backwards: [String]) {
        var written = Set<String>()
        var lastByKey: [Int32: String] = [:]
        var doubled: [String] = []
        var backwards: [String] = []
        let audit = try await client.query(PostgresQuery(unsafeSQL: "SELECT id, position FROM \(quoteIdentifierForTests(schema)).audit WHERE op <> 'D' ORDER BY seq"))
        for try await (id, position) in audit.decode((Int32, String).self) {
            if !written.insert("\(id)@\(position)").inserted { doubled.append("\(id)@\(position)") }
            if let last = lastByKey[id], last >= position { backwards.append("\(id): \(last) then \(position)") }
            lastByKey[id] = position
        }
        return (written.count, doubled, backwards)
    }

    /// `<schema>.audit`: one row per row the sink inserted, updated or deleted in `<schema>.<table>`.
    static func installAudit(_ client: PostgresClient, schema: String, table: String = "accounts") async throws {
        let s = quoteIdentifierForTests(schema), t = quoteIdentifierForTests(table)
        for statement in [
            "CREATE TABLE \(s).audit (seq bigserial PRIMARY KEY, op text NOT NULL, id int NOT NULL, position text)",
            """
            CREATE FUNCTION \(s).audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'DELETE' THEN
                INSERT INTO \(s).audit (op, id, position) VALUES ('D', OLD.id, OLD.__sluice_position);
              ELSE
                INSERT INTO \(s).audit (op, id, position) VALUES (left(TG_OP, 1), NEW.id, NEW.__sluice_position);
              END IF;
              RETURN NULL;
            END $$
            """,
            "CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON \(s).\(t) FOR EACH ROW EXECUTE FUNCTION \(s).audit_row()",
        ] {
            try await client.query(PostgresQuery(unsafeSQL: statement))
        }
    }
}
