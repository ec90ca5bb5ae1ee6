import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit
import Testing

@Suite("Postgres sink schema evolution and failures")
struct PostgresSinkSchemaTests {
    typealias World = PostgresSinkTestWorld

    @Test("a new nullable source column is added; an incompatible type change stops only that table's topic")
    func evolutionAndIncompatibleChange() async throws {
        let topicA = try await KafkaTestWorld.makeTopic("pgsink-evolve-a")
        let topicB = try await KafkaTestWorld.makeTopic("pgsink-evolve-b")
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-evolve")
        var a = AccountsSource()
        var b = AccountsSource()
        b.table = TableID(database: "CreditStaging", schema: "dbo", table: "accounts_b")
        try a.insert(a.randomRow(id: 1))
        a.extraColumn = true
        try a.insert(a.randomRow(id: 2))          // carries the new column `note`
        try a.insertWithNameAsInt(id: 3)          // name: nvarchar(50) → int: the table must stop here
        let stopOffset = Int64(a.messages.count - 1)
        try a.update(a.randomRow(id: 1))          // never applied: its topic is stopped
        try b.insert(b.randomRow(id: 1))
        try b.insert(b.randomRow(id: 2))
        let producer = try KafkaTestWorld.makeProducer()
        try await a.publish(producer, topic: topicA)
        try await b.publish(producer, topic: topicB)
        await producer.shutdown()
        let expectedB = b.expectedText
        let endB = Int64(b.messages.count)

        let configuration = try World.configuration(name: group, topics: [topicA, topicB], schema: schema, batchSize: 2)
        let health = HealthRegistry()
        try await World.withPostgres { client in
            let target = PostgresSinkTarget(configuration: configuration, logger: World.logger)
            let runtime = SinkRuntime(configuration: World.runtimeConfiguration(configuration), target: target, health: health, logger: World.logger)
            try await World.whileRunning(runtime) {
                try await World.waitForStoredOffsets(client, group: group, topics: [topicA: stopOffset, topicB: endB])
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(10)
                while runtime.stoppedTopics.isEmpty && clock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                try await Task.sleep(for: .milliseconds(500))  // the stopped topic must not advance any further
                #expect(try await World.storedOffsets(client, group: group)[topicA] == stopOffset)
                let reason = try #require(runtime.stoppedTopics[topicA])
                #expect(reason.contains("column name is character varying(50) in Postgres but the source now sends integer"))
                #expect(runtime.stoppedTopics[topicB] == nil)
                #expect(health.snapshot[runtime.healthComponent]?.name == "degraded")
            }
            await target.close()
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema, table: "accounts_b") == expectedB)
            var notes: [Int32: String] = [:]
            let sql = "SELECT id, note FROM \(quoteIdentifier(schema)).accounts ORDER BY id"
            for try await (id, note) in try await client.query(PostgresQuery(unsafeSQL: sql)).decode((Int32, String?).self) { notes[id] = note ?? "NULL" }
            #expect(notes == [1: "NULL", 2: "note 2"])
            try await World.dropSchema(client, schema)
        }
    }

    @Test("transient target failures are retried with backoff; nothing is lost or doubled")
    func transientFailuresAreRetried() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-flaky")
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-flaky")
        var source = AccountsSource()
        try source.randomChanges(120, ids: 1...15)
        let producer = try KafkaTestWorld.makeProducer()
        try await source.publish(producer, topic: topic)
        await producer.shutdown()
        let expected = source.expectedText
        let end = Int64(source.messages.count)
        let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 20)

        try await World.withPostgres { client in
            let postgres = PostgresSinkTarget(configuration: configuration, logger: World.logger)
            let flaky = FlakyTarget(postgres, failures: 3)
            let runtime = SinkRuntime(configuration: World.runtimeConfiguration(configuration), target: flaky, logger: World.logger)
            try await World.whileRunning(runtime) {
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end])
            }
            await postgres.close()
            #expect(flaky.failed.withLockedValue { $0 } == 6)
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expected)
            try await World.dropSchema(client, schema)
        }
    }

    @Test("Postgres sessions killed again and again mid-stream: the sink reconnects, nothing lost or doubled")
    func killedConnectionsAreSurvived() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-kill")
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-kill")
        var source = AccountsSource()
        try source.randomChanges(500, ids: 1...40)
        let producer = try KafkaTestWorld.makeProducer()
        try await source.publish(producer, topic: topic)
        await producer.shutdown()
        let expected = source.expectedText
        let end = Int64(source.messages.count)
        let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 10)
        let applicationName = PostgresSinkConnector.applicationName(configuration)

        try await World.withPostgres { client in
            let sink = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            let killed: Int = try await World.whileRunning(sink) {
                var killed = 0
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(40)
                while clock.now < deadline {
                    if try await World.storedOffsets(client, group: group)[topic] == end { break }
                    let rows = try await client.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = \(applicationName)")
                    for try await (count,) in rows.decode((Int64,).self) { killed += Int(count) }
                    try await Task.sleep(for: .milliseconds(150))
                }
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end])
                return killed
            }
            #expect(killed > 0, "no session was killed: the test proved nothing")
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expected)
            try await World.dropSchema(client, schema)
        }
    }

    @Test("statements prepared while the batch before adds a column are built again with that column")
    func preparedStatementsFollowAnAddedColumn() async throws {
        let schema = World.uniqueSchema()
        let topic = "pgsink-prepared-" + schema
        var source = AccountsSource()
        try source.insert(source.randomRow(id: 1))   // batch 1: the table as it starts
        source.extraColumn = true
        try source.insert(source.randomRow(id: 2))   // batch 2: adds `note`
        try source.insert(source.randomRow(id: 3))   // batch 3: prepared before batch 2 was applied
        let messages = source.messages.enumerated().map { offset, message in
            KafkaMessage(topic: topic, partition: 0, offset: Int64(offset), key: message.key, value: message.value)
        }
        let batches = messages.map { SinkBatchBuilder.build([$0]).batch }
        let expected = source.expectedText
        let configuration = try World.configuration(name: KafkaTestWorld.uniqueName("pgsink-prepared"), topics: [topic], schema: schema)
        try await World.withPostgres { client in
            let target = PostgresSinkTarget(configuration: configuration, logger: World.logger)
            _ = try await target.apply(batches[0])
            // As the runtime does: batch 3 is prepared while batch 2 (which adds the column) is applied.
            let prepared = try #require(target.prepare(batches[2]))
            _ = try await target.apply(batches[1], prepared: target.prepare(batches[1]))
            let outcome = try await target.apply(batches[2], prepared: prepared)
            #expect(outcome.applied.values.reduce(0, +) == 1)
            await target.close()
            var notes: [Int32: String] = [:]
            let sql = "SELECT id, note FROM \(quoteIdentifier(schema)).accounts ORDER BY id"
            for try await (id, note) in try await client.query(PostgresQuery(unsafeSQL: sql)).decode((Int32, String?).self) { notes[id] = note ?? "NULL" }
            #expect(notes == [1: "NULL", 2: "note 2", 3: "note 3"])
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expected)
            try await World.dropSchema(client, schema)
        }
    }
}

/// Fails the first `failures` calls of each method with a transient error, as a restarting Postgres would.
final class FlakyTarget: SinkTarget {
    let inner: any SinkTarget
    let failures: Int
    let failed = NIOLockedValueBox(0)
    let calls = NIOLockedValueBox((offsets: 0, apply: 0))
    init(_ inner: any SinkTarget, failures: Int) {
        self.inner = inner
        self.failures = failures
    }
    func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        if calls.withLockedValue({ $0.offsets += 1; return $0.offsets }) <= failures {
            failed.withLockedValue { $0 += 1 }
            throw SinkError(code: .transient, message: "Postgres is restarting (simulated)")
        }
        return try await inner.storedOffsets(for: partitions)
    }
    func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome {
        if calls.withLockedValue({ $0.apply += 1; return $0.apply }) <= failures {
            failed.withLockedValue { $0 += 1 }
            throw SinkError(code: .transient, message: "the connection was reset (simulated)")
        }
        return try await inner.apply(batch)
    }
}
