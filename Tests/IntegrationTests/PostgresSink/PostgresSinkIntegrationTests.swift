import Foundation
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit
import Testing

@Suite("Postgres sink against Postgres and the broker")
struct PostgresSinkIntegrationTests {
    typealias World = PostgresSinkTestWorld

    @Test("mixed inserts, updates, key changes and deletes → the replica equals the source; a replay from 0 and stale duplicates change nothing")
    func replicaEqualsSourceAndReplaysChangeNothing() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-mixed")
        let schema = World.uniqueSchema()
        var source = AccountsSource()
        try source.randomChanges(400, ids: 1...40)
        let finalSource = source
        let producer = try KafkaTestWorld.makeProducer()
        try await source.publish(producer, topic: topic)
        let end = Int64(source.messages.count)

        try await World.withPostgres { client in
            let source = finalSource
            let expected = try await PostgresSinkChecks.md5(client, source.expectedText)
            let group = KafkaTestWorld.uniqueName("pgsink-mixed")
            let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 97)
            let sink = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            try await World.whileRunning(sink) {
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end])
            }
            let replica = try await PostgresSinkChecks.replicaText(client, schema: schema)
            #expect(replica == source.expectedText)
            #expect(try await PostgresSinkChecks.md5(client, replica) == expected)
            let positions = try await PostgresSinkChecks.positions(client, schema: schema)

            // Stale duplicates: every message again (old creates, updates and deletes of keys that moved on).
            try await source.publish(producer, topic: topic, from: 0)
            let doubled = end * 2
            // Same group continues; then a fresh group replays everything from offset 0.
            let second = KafkaTestWorld.uniqueName("pgsink-replay")
            for name in [group, second] {
                let configuration = try World.configuration(name: name, topics: [topic], schema: schema, batchSize: 500)
                let sink = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
                try await World.whileRunning(sink) {
                    try await World.waitForStoredOffsets(client, group: name, topics: [topic: doubled])
                }
                #expect(try await PostgresSinkChecks.md5(client, try await PostgresSinkChecks.replicaText(client, schema: schema)) == expected)
                #expect(try await PostgresSinkChecks.positions(client, schema: schema) == positions)
            }
            try await World.dropSchema(client, schema)
        }
        await producer.shutdown()
    }

    @Test("delete markers older than deleted.retention.hours are pruned by a restarted sink; newer ones stay; the replica is unchanged")
    func oldDeleteMarkersArePruned() async throws {
        let scenario = try await World.Scenario("pgsink-prune", changes: 300, ids: 1...20)
        try await scenario.publishAll()
        let producer = try KafkaTestWorld.makeProducer()
        let configuration = try World.configuration(name: scenario.group, topics: [scenario.topic], schema: scenario.schema, batchSize: 50,
                                                    extra: #", "deleted.retention.hours": 24"#)
        // This test's markers: those of its replica table (the shared table holds other tests' too).
        let deleted = "sluice.sluice_deleted"
        let mine = "table_name LIKE '\(scenario.schema).%'"
        try await World.withPostgres { client in
            let first = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            try await World.whileRunning(first) {
                try await World.waitForStoredOffsets(client, group: scenario.group, topics: [scenario.topic: scenario.end])
            }
            // Age half the markers past the retention (and add one for a key that never existed).
            try await client.query(PostgresQuery(unsafeSQL: """
                UPDATE \(deleted) SET deleted_at = now() - interval '25 hours'
                WHERE \(mine) AND key IN (SELECT key FROM \(deleted) WHERE \(mine) ORDER BY key LIMIT (SELECT count(*) / 2 FROM \(deleted) WHERE \(mine)))
                """))
            try await client.query(PostgresQuery(unsafeSQL: """
                INSERT INTO \(deleted) (table_name, key, position, deleted_at) VALUES ('\(scenario.schema).gone', '{"id":0}', '0', now() - interval '30 days')
                """))
            let markers = try await Self.markers(client, table: deleted, where: mine)
            let old = markers.filter { $0.old }.map(\.key), recent = markers.filter { !$0.old }.map(\.key)
            try #require(old.count >= 2 && !recent.isEmpty, "markers: \(markers)")

            // A restarted sink prunes with its first batch.
            let last = scenario.messages.last!
            try await producer.enqueue(topic: scenario.topic, key: last.key, value: last.value, partition: 0)
            try await producer.waitForAllDeliveries()
            let second = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            try await World.whileRunning(second) {
                try await World.waitForStoredOffsets(client, group: scenario.group, topics: [scenario.topic: scenario.end + 1])
            }
            #expect(try await Self.markers(client, table: deleted, where: mine).map(\.key).sorted() == recent.sorted())
            #expect(try await PostgresSinkChecks.replicaText(client, schema: scenario.schema) == scenario.expectedText)
            try await World.dropSchema(client, scenario.schema)
        }
        await producer.shutdown()
    }

    static func markers(_ client: PostgresClient, table: String, where condition: String) async throws -> [(key: String, old: Bool)] {
        var result: [(key: String, old: Bool)] = []
        let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT table_name || key, deleted_at < now() - interval '24 hours' FROM \(table) WHERE \(condition)"))
        for try await (key, old) in rows.decode((String, Bool).self) { result.append((key, old)) }
        return result
    }

    @Test("a poison message and a row Postgres rejects go to the dead-letter topic with the error; later events still apply")
    func poisonMessagesAreDeadLettered() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-poison")
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-poison")
        var source = AccountsSource()
        try source.insert(source.randomRow(id: 1))
        var tooLong = source.randomRow(id: 2)
        tooLong.name = String(repeating: "x", count: 60)  // nvarchar(50) → varchar(50): Postgres refuses it
        let producer = try KafkaTestWorld.makeProducer()
        try await source.publish(producer, topic: topic)
        try await producer.send(topic: topic, key: Array(#"{"id":99}"#.utf8), value: Array("{not json".utf8), partition: 0)
        var rejected = source
        try rejected.insert(tooLong)
        try await producer.send(topic: topic, key: rejected.messages.last!.key, value: rejected.messages.last!.value, partition: 0)
        let before = source.messages.count
        try source.insert(source.randomRow(id: 3))
        try source.update(source.randomRow(id: 1))
        try await source.publish(producer, topic: topic, from: before)
        let end = Int64(source.messages.count + 2)
        let expectedText = source.expectedText

        let configuration = try World.configuration(name: group, topics: [topic], schema: schema)
        let dlq = configuration.deadLetterTopic
        try await World.withPostgres { client in
            let sink = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            try await World.whileRunning(sink) {
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end])
            }
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            try await World.dropSchema(client, schema)
        }
        let consumer = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("dlq-reader"))
        try consumer.subscribe(topics: [dlq])
        let dead = try await KafkaTestWorld.consume(consumer, count: 2)
        await consumer.close()
        await producer.shutdown()
        try #require(dead.count == 2)
        func header(_ message: KafkaMessage, _ name: String) -> String? {
            message.headers.last { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(dead.map { header($0, "sluice.offset") } == ["1", "2"])
        #expect(dead.allSatisfy { header($0, "sluice.topic") == topic && header($0, "sluice.partition") == "0" })
        #expect(header(dead[0], "sluice.error")?.contains("JSON") == true || header(dead[0], "sluice.error")?.isEmpty == false)
        #expect(header(dead[1], "sluice.error")?.contains("22001") == true)
        #expect(dead[0].value == Array("{not json".utf8))
    }
}
