import Foundation
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit
import Testing

/// Records the offsets of the records handed to the inner target (to see where a restarted sink began).
final class RecordingTarget: SinkTarget {
    let inner: any SinkTarget
    let offsets = NIOLockedValueBox<[Int64]>([])
    init(_ inner: any SinkTarget) { self.inner = inner }
    func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] { try await inner.storedOffsets(for: partitions) }
    func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome {
        let outcome = try await inner.apply(batch)
        offsets.withLockedValue { $0 += batch.records.map(\.offset) }
        return outcome
    }
}

@Suite("Postgres sink stopped and restarted")
struct PostgresSinkResumeTests {
    typealias World = PostgresSinkTestWorld

    @Test("a sink cancelled mid-stream resumes where Postgres says, with nothing lost or doubled")
    func cancelledMidStreamResumes() async throws {
        let scenario = try await World.Scenario("pgsink-cancel", changes: 600, ids: 1...50)
        try await scenario.publishAll()
        let (topic, schema, group, end, expectedText) = (scenario.topic, scenario.schema, scenario.group, scenario.end, scenario.expectedText)
        let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 10)

        try await World.withPostgres { client in
            // First run: cancel (not a graceful stop) as soon as some batches are stored.
            let first = PostgresSinkService(configuration: configuration, runtimeConfiguration: World.runtimeConfiguration(configuration), logger: World.logger)
            let stoppedAt: Int64 = try await World.whileRunning(first, graceful: false) {
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(30)
                while clock.now < deadline {
                    if let stored = try await World.storedOffsets(client, group: group)[topic], stored >= 40 { return stored }
                    try await Task.sleep(for: .milliseconds(5))
                }
                throw World.TimedOut(what: "a first batch")
            }
            let afterCancel = try #require(try await World.storedOffsets(client, group: group)[topic])
            #expect(afterCancel >= stoppedAt && afterCancel < end, "the first run should stop mid-stream (stored \(afterCancel) of \(end))")

            // Second run: starts exactly at the stored offset.
            let postgres = PostgresSinkTarget(configuration: configuration, logger: World.logger)
            let target = RecordingTarget(postgres)
            let runtime = SinkRuntime(configuration: World.runtimeConfiguration(configuration), target: target, logger: World.logger)
            try await World.whileRunning(runtime) {
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end])
            }
            await postgres.close()
            let seen = target.offsets.withLockedValue { $0 }
            #expect(seen.first.map { $0 >= afterCancel } == true && seen.first.map { $0 <= afterCancel + 1 } == true,
                    "restart began at \(seen.first ?? -1), stored was \(afterCancel)")
            #expect(seen == seen.sorted() && Set(seen).count == seen.count, "no offset applied twice after the restart")
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            try await World.dropSchema(client, schema)
        }
    }

    @Test("crash simulation: batches applied, process state dropped, the restart continues from what Postgres stored")
    func crashThenRestartFromStoredOffsets() async throws {
        let scenario = try await World.Scenario("pgsink-crash", changes: 300, ids: 1...30)
        try await scenario.publishAll()
        let (topic, schema, group, end, expectedText) = (scenario.topic, scenario.schema, scenario.group, scenario.end, scenario.expectedText)
        let configuration = try World.configuration(name: group, topics: [topic], schema: schema)

        try await World.withPostgres { client in
            // "Process 1": reads everything but applies only three batches of 25 (no group commit), then dies.
            let reader = try KafkaTestWorld.makeConsumer(group: KafkaTestWorld.uniqueName("pgsink-crash-reader"))
            try reader.subscribe(topics: [topic])
            let messages = try await KafkaTestWorld.consume(reader, count: Int(end))
            await reader.close()
            try #require(messages.count == Int(end))
            do {
                let doomed = PostgresSinkTarget(configuration: configuration, logger: World.logger)
                for chunk in 0..<3 {
                    let slice = Array(messages[(chunk * 25)..<((chunk + 1) * 25)])
                    _ = try await doomed.apply(SinkBatchBuilder.build(slice).batch)
                }
                // A fourth batch whose transaction dies before commit (cancelled mid-apply) must leave no trace.
                let torn = SinkBatchBuilder.build(Array(messages[75..<100])).batch
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { _ = try? await doomed.apply(torn) }
                    group.cancelAll()
                }
                await doomed.close()
            }
            let stored = try #require(try await World.storedOffsets(client, group: group)[topic])
            #expect(stored == 75 || stored == 100)

            // "Process 2": a fresh sink in the same group starts at the stored offset.
            let postgres = PostgresSinkTarget(configuration: configuration, logger: World.logger)
            let target = RecordingTarget(postgres)
            let runtime = SinkRuntime(configuration: World.runtimeConfiguration(configuration), target: target, logger: World.logger)
            try await World.whileRunning(runtime) {
                try await World.waitForStoredOffsets(client, group: group, topics: [topic: end])
            }
            await postgres.close()
            let seen = target.offsets.withLockedValue { $0 }
            #expect((seen.first ?? -1) >= stored && (seen.first ?? -1) <= stored + 1, "restart began at \(seen.first ?? -1), stored was \(stored)")
            #expect(Set(seen).count == seen.count)
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            try await World.dropSchema(client, schema)
        }
    }
}
