import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import Testing

/// Scaling a sink out the way Kafka does it: a topic with 6 partitions, three `sluice run` processes
/// of the same connector file in one consumer group. One is killed with SIGKILL while changes keep
/// coming; the other two take its partitions over (after its session times out), and the replica ends
/// equal to the source with no change applied twice (the kill test's audit trigger).
@Suite("Postgres sink: three processes in one group over 6 partitions, one killed -9", .serialized)
struct PostgresSinkScaleOutTests {
    typealias World = PostgresSinkTestWorld
    static let partitions: Int32 = 6

    @Test("three replica sink processes share 6 partitions; one is killed -9, the others take over; the replica is exact")
    func threeProcessesShareAndTakeOver() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-scale", partitions: Self.partitions)
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-scale")
        var source = AccountsSource()
        try source.insert(source.randomRow(id: 1))
        try source.randomChanges(1800, ids: 1...120)
        let messages = source.messages.map { (key: $0.key, value: $0.value, partition: Self.partition(of: $0.key)) }
        let expectedText = source.expectedText
        #expect(Set(messages.map(\.partition)).count == Int(Self.partitions), "keys spread over every partition")

        let directory = try SluiceProcess.scratchDirectory(group)
        let connectorFile = try SluiceProcess.writeSinkConnectorFile(name: group, config: [
            "connector.class": "postgres-sink", "topics": topic, "connection.url": try LocalWorld.env("SLUICE_PG_URL"),
            "table.name.format": "\(schema).${source.table}", "batch.size": "25",
        ], in: directory)
        let processes = (0..<3).map { SluiceProcess(connectorFiles: [connectorFile], log: directory.appendingPathComponent("sluice-\($0).log")) }
        let producer = try KafkaTestWorld.makeProducer()

        try await World.withPostgres { client in
            // The first event creates the table; the audit trigger goes on before anything else is published.
            try await producer.enqueue(topic: topic, key: messages[0].key, value: messages[0].value, partition: messages[0].partition)
            try await producer.waitForAllDeliveries()
            for process in processes { try process.start() }
            let created = try await eventually(timeout: .seconds(90)) {
                try await Self.storedOffsets(client, group: group, topic: topic)[messages[0].partition] == 1
            }
            try #require(created, "the first event was not applied; logs:\n\(processes.map { $0.logText.suffix(1500) })")
            try await PostgresSinkKillTests.installAudit(client, schema: schema)

            // Every process got partitions (cooperative-sticky spreads 6 over 3).
            let spread = try await eventually(timeout: .seconds(60)) {
                processes.allSatisfy { $0.logCount("Partitions assigned") >= 1 }
            }
            #expect(spread, "not every process got partitions")

            let publishing = NIOLockedValueBox(0)
            async let published: Void = Self.publish(messages[1...], to: topic, with: producer, burst: 30) {
                publishing.withLockedValue { $0 += 1 }
                try await Task.sleep(for: .milliseconds(100))
            }
            // Kill one process while it applies (once a third of the changes went out).
            let halfway = try await eventually(timeout: .seconds(60)) { publishing.withLockedValue { $0 } >= 20 }
            #expect(halfway)
            let victim = processes[1]
            let assignedBefore = processes[0].logCount("Partitions assigned") + processes[2].logCount("Partitions assigned")
            victim.killNine()
            let killedAt = ContinuousClock.now
            try await published
            await producer.shutdown()

            let end = Self.endOffsets(messages)
            let caughtUp = try await eventually(timeout: .seconds(120)) {
                try await Self.storedOffsets(client, group: group, topic: topic) == end
            }
            let took = ContinuousClock.now - killedAt
            for process in processes { process.stop() }
            let stored = try await Self.storedOffsets(client, group: group, topic: topic)
            try #require(caughtUp, "stored \(stored), want \(end)")
            // The survivors were handed the victim's partitions.
            let assignedAfter = processes[0].logCount("Partitions assigned") + processes[2].logCount("Partitions assigned")
            #expect(assignedAfter > assignedBefore, "no reassignment after the kill")

            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            let audit = try await PostgresSinkKillTests.auditedWrites(client, schema: schema)
            #expect(audit.doubled.isEmpty, "applied twice: \(audit.doubled.prefix(10))")
            #expect(audit.backwards.isEmpty, "went backwards: \(audit.backwards.prefix(10))")
            print("Postgres sink scale-out test: 3 processes, \(Self.partitions) partitions, \(messages.count) messages; caught up \(took) after the kill")
            try await World.dropSchema(client, schema)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The partition of a key: FNV-1a of its bytes, so every change of one key lands in one partition.
    static func partition(of key: [UInt8], among count: Int32 = partitions) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in key { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(hash % UInt32(count))
    }

    static func endOffsets(_ messages: [(key: [UInt8], value: [UInt8]?, partition: Int32)]) -> [Int32: Int64] {
        var end: [Int32: Int64] = [:]
        for message in messages { end[message.partition, default: 0] += 1 }
        return end
    }

    static func publish(_ messages: ArraySlice<(key: [UInt8], value: [UInt8]?, partition: Int32)>, to topic: String, with producer: KafkaProducer,
                        burst: Int, between: @Sendable () async throws -> Void) async throws {
        var index = messages.startIndex
        while index < messages.endIndex {
            for message in messages[index..<min(index + burst, messages.endIndex)] {
                try await producer.enqueue(topic: topic, key: message.key, value: message.value, partition: message.partition)
            }
            try await producer.waitForAllDeliveries()
            index += burst
            try await between()
        }
    }

    /// The next offsets the sink stored in Postgres, per partition of `topic`.
    static func storedOffsets(_ client: PostgresClient, group: String, topic: String) async throws -> [Int32: Int64] {
        var result: [Int32: Int64] = [:]
        let exists = try await client.query("SELECT to_regclass('sluice.sluice_offsets') IS NOT NULL").decode((Bool,).self)
        for try await (present,) in exists where !present { return [:] }
        for try await (partition, next) in try await client.query(
            "SELECT \"partition\", next_offset FROM sluice.sluice_offsets WHERE group_id = \(group) AND topic = \(topic)").decode((Int32, Int64).self) {
            result[partition] = next
        }
        return result
    }
}
