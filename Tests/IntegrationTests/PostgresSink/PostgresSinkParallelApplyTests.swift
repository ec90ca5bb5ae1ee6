import Foundation
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit
import Testing

/// `apply.connections`: one sink process applying a batch's partitions on several Postgres connections
/// at once. The audit trigger records which backend wrote each row, so the test sees the lanes really
/// ran on separate connections, and that no (key, position) was written twice or backwards, also when
/// a row Postgres refuses sends the batch event by event after the other lanes had committed.
@Suite("Postgres sink: apply.connections=3 over 6 partitions")
struct PostgresSinkParallelApplyTests {
    typealias World = PostgresSinkTestWorld
    typealias Scale = PostgresSinkScaleOutTests

    @Test("lanes commit on separate connections; the replica is exact; a refused row is dead-lettered alone; duplicates write nothing")
    func lanesApplyInParallel() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-lanes", partitions: Scale.partitions)
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-lanes")
        var source = AccountsSource()
        try source.insert(source.randomRow(id: 1))
        try source.randomChanges(1500, ids: 1...150)
        let expectedText = source.expectedText
        var stream = source.messages.map { (key: $0.key, value: $0.value, partition: Scale.partition(of: $0.key)) }
        // A row Postgres refuses (nvarchar(50) → varchar(50)), in the middle of the stream.
        var refused = source
        var tooLong = refused.randomRow(id: 10_000)
        tooLong.name = String(repeating: "x", count: 60)
        try refused.insert(tooLong)
        let poison = refused.messages.last!
        stream.insert((poison.key, poison.value, Scale.partition(of: poison.key)), at: stream.count / 2)
        let messages = stream
        let again = source.messages.map { (key: $0.key, value: $0.value, partition: Scale.partition(of: $0.key)) }
        let end = Scale.endOffsets(messages)

        let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 200,
                                                    extra: #", "apply.connections": 3"#)
        #expect(configuration.applyConnections == 3)
        let producer = try KafkaTestWorld.makeProducer()
        try await World.withPostgres { client in
            let sink = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            try await World.whileRunning(sink) {
                // The first event creates the table; the audit goes on before anything else is published.
                try await producer.enqueue(topic: topic, key: messages[0].key, value: messages[0].value, partition: messages[0].partition)
                try await producer.waitForAllDeliveries()
                let created = try await eventually(timeout: .seconds(60)) {
                    try await Scale.storedOffsets(client, group: group, topic: topic)[messages[0].partition] == 1
                }
                try #require(created, "the first event was not applied")
                try await PostgresSinkKillTests.installAudit(client, schema: schema)
                try await client.query(PostgresQuery(unsafeSQL:
                    "ALTER TABLE \(quoteIdentifierForTests(schema)).audit ADD COLUMN backend int NOT NULL DEFAULT pg_backend_pid()"))

                try await Scale.publish(messages[1...], to: topic, with: producer, burst: 600) {}
                let caughtUp = try await eventually(timeout: .seconds(90)) {
                    try await Scale.storedOffsets(client, group: group, topic: topic) == end
                }
                let stored = try await Scale.storedOffsets(client, group: group, topic: topic)
                try #require(caughtUp, "stored \(stored), want \(end)")

                // Stale duplicates of every valid message: nothing may be written again.
                try await Scale.publish(again[...], to: topic, with: producer, burst: 600) {}
                var doubled = end
                for message in again { doubled[message.partition, default: 0] += 1 }
                let replayed = try await eventually(timeout: .seconds(90)) {
                    try await Scale.storedOffsets(client, group: group, topic: topic) == doubled
                }
                try #require(replayed, "the duplicates were not all consumed")
            }
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            let audit = try await PostgresSinkKillTests.auditedWrites(client, schema: schema)
            #expect(audit.doubled.isEmpty, "applied twice: \(audit.doubled.prefix(10))")
            #expect(audit.backwards.isEmpty, "went backwards: \(audit.backwards.prefix(10))")
            var backends = 0
            for try await (count,) in try await client.query(PostgresQuery(unsafeSQL:
                "SELECT count(DISTINCT backend) FROM \(quoteIdentifierForTests(schema)).audit")).decode((Int,).self) { backends = count }
            #expect(backends >= 2, "every row was written by one connection: the lanes did not run in parallel")
            try await World.dropSchema(client, schema)
        }
        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("dlq-reader"))
        try consumer.subscribe(topics: [configuration.deadLetterTopic])
        let dead = try await KafkaTestWorld.consume(consumer, count: 2, timeout: .seconds(10))
        await consumer.close()
        await producer.shutdown()
        #expect(dead.count == 1, "only the refused row is dead-lettered")
        #expect(dead.first?.value == poison.value)
        let error = dead.first?.headers.last { $0.name == "sluice.error" }?.value.map { String(decoding: $0, as: UTF8.self) }
        #expect(error?.contains("22001") == true)
    }
}
