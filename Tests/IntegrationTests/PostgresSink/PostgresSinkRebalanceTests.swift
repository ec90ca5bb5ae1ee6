import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import SluiceCore
import SluiceKafka
import SluicePostgresSink
import SluiceSinkKit
import Testing

/// Holds the first apply until `release()`, makes every apply after it last at least `slowness`, and
/// records when each apply ran and which partitions it wrote.
final class HoldingTarget: SinkTarget {
    struct Apply {
        var start: ContinuousClock.Instant
        var end: ContinuousClock.Instant
        var partitions: Set<TopicPartition>
    }

    struct State {
        var held = false
        var released = false
        var applies: [Apply] = []
    }

    let inner: any SinkTarget
    let slowness: Duration
    let state = NIOLockedValueBox(State())

    init(_ inner: any SinkTarget, slowness: Duration) {
        self.inner = inner
        self.slowness = slowness
    }

    func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] { try await inner.storedOffsets(for: partitions) }

    func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome {
        let start = ContinuousClock.now
        let written = Set(batch.nextOffsets.keys)
        let hold = state.withLockedValue { state in
            guard !state.held else { return false }
            state.held = true
            return true
        }
        if hold {
            while !state.withLockedValue({ $0.released }) { try await Task.sleep(for: .milliseconds(10)) }
        } else {
            try await Task.sleep(for: slowness)
        }
        let outcome = try await inner.apply(batch)
        state.withLockedValue { $0.applies.append(Apply(start: start, end: .now, partitions: written)) }
        return outcome
    }

    func release() { state.withLockedValue { $0.released = true } }

    /// The applies that were running at `instant` and wrote any of `partitions`.
    func applies(runningAt instant: ContinuousClock.Instant, writing partitions: Set<TopicPartition>) -> [Apply] {
        state.withLockedValue { $0.applies.filter { $0.start < instant && instant < $0.end && !$0.partitions.isDisjoint(with: partitions) } }
    }
}

/// Records when the consumer read the stored offsets of which partitions (its assignment hook).
final class AssignmentRecorder: SinkTarget {
    let inner: any SinkTarget
    let reads = NIOLockedValueBox<[(at: ContinuousClock.Instant, partitions: Set<TopicPartition>)]>([])

    init(_ inner: any SinkTarget) { self.inner = inner }

    func storedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        reads.withLockedValue { $0.append((.now, Set(partitions))) }
        return try await inner.storedOffsets(for: partitions)
    }

    func apply(_ batch: SinkBatch) async throws -> SinkApplyOutcome { try await inner.apply(batch) }
}

/// Records when each message was logged (the consumer logs "Kafka partitions revoked" once its revoke
/// hook has returned).
struct TimedLogHandler: LogHandler {
    let records: NIOLockedValueBox<[(at: ContinuousClock.Instant, message: String)]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.withLockedValue { $0.append((.now, "\(event.message)")) }
    }
}

/// The sink polls the next batch while it applies one; a rebalance that poll meets must wait for the
/// apply, or a partition could be handed to another member (which reads its stored offsets) while the
/// first still writes it. The first member's first apply is held while the second joins, so the
/// rebalance is pending when the first member polls again beside its next (slowed) apply.
@Suite("Postgres sink: a rebalance during an apply", .serialized)
struct PostgresSinkRebalanceTests {
    typealias World = PostgresSinkTestWorld
    static let partitions: Int32 = 2

    @Test("a second member joins while batches are applied: partitions are given up and taken over only between applies; the replica is exact")
    func rebalanceWaitsForTheApplyInFlight() async throws {
        let topic = try await KafkaTestWorld.makeTopic("pgsink-rebalance", partitions: Self.partitions)
        let schema = World.uniqueSchema()
        let group = KafkaTestWorld.uniqueName("pgsink-rebalance")
        var source = AccountsSource()
        try source.insert(source.randomRow(id: 1))
        try source.randomChanges(900, ids: 1...80)
        let messages = source.messages.map { (key: $0.key, value: $0.value, partition: PostgresSinkScaleOutTests.partition(of: $0.key, among: Self.partitions)) }
        let expectedText = source.expectedText
        // Small batches: several are in hand and applied (slowly) after the held one.
        let configuration = try World.configuration(name: group, topics: [topic], schema: schema, batchSize: 150)
        let producer = try KafkaTestWorld.makeProducer()
        @Sendable func publish(_ slice: ArraySlice<(key: [UInt8], value: [UInt8]?, partition: Int32)>) async throws {
            for message in slice { try await producer.enqueue(topic: topic, key: message.key, value: message.value, partition: message.partition) }
            try await producer.waitForAllDeliveries()
        }

        let firstTarget = PostgresSinkTarget(configuration: configuration, logger: World.logger)
        let holding = HoldingTarget(firstTarget, slowness: .milliseconds(400))
        let firstLog = NIOLockedValueBox<[(at: ContinuousClock.Instant, message: String)]>([])
        let first = SinkRuntime(configuration: World.runtimeConfiguration(configuration), target: holding,
                                logger: Logger(label: "sluice.pgsink.tests.first") { _ in TimedLogHandler(records: firstLog) })
        let secondTarget = PostgresSinkTarget(configuration: configuration, logger: World.logger)
        let recorder = AssignmentRecorder(secondTarget)
        let second = SinkRuntime(configuration: World.runtimeConfiguration(configuration), target: recorder, logger: World.logger)

        try await World.withPostgres { client in
            try await World.whileRunning(first) {
                try await publish(messages[...])
                let held = try await eventually(timeout: .seconds(30)) { holding.state.withLockedValue { $0.held } }
                try #require(held, "no batch was applied")

                try await World.whileRunning(second) {
                    // The second member joins; the first is applying the held batch meanwhile.
                    try await Task.sleep(for: .seconds(4))
                    holding.release()
                    let end = PostgresSinkScaleOutTests.endOffsets(messages)
                    let caughtUp = try await eventually(timeout: .seconds(60)) {
                        try await PostgresSinkScaleOutTests.storedOffsets(client, group: group, topic: topic) == end
                    }
                    let stored = try await PostgresSinkScaleOutTests.storedOffsets(client, group: group, topic: topic)
                    try #require(caughtUp, "stored \(stored), want \(end)")

                    let all = Set((0..<Self.partitions).map { TopicPartition(topic: topic, partition: $0) })
                    // The first member gave a partition up, while none of its applies ran.
                    let revoked = try await eventually(timeout: .seconds(30)) {
                        firstLog.withLockedValue { $0.contains { $0.message == "Kafka partitions revoked" } }
                    }
                    #expect(revoked, "the first member never gave a partition up")
                    for record in firstLog.withLockedValue({ $0 }) where record.message == "Kafka partitions revoked" {
                        let running = holding.applies(runningAt: record.at, writing: all)
                        #expect(running.isEmpty, "the first member gave partitions up during an apply of \(running.map { $0.partitions.sorted() })")
                    }
                    // The second member read a partition's offsets only while the first was not writing it.
                    let assigned = try await eventually(timeout: .seconds(30)) { !recorder.reads.withLockedValue { $0 }.isEmpty }
                    #expect(assigned, "the second member was never assigned a partition")
                    for read in recorder.reads.withLockedValue({ $0 }) {
                        let running = holding.applies(runningAt: read.at, writing: read.partitions)
                        #expect(running.isEmpty, "the second member read the offsets of \(read.partitions.sorted()) during the first member's apply of them")
                    }
                }
            }
            #expect(try await PostgresSinkChecks.replicaText(client, schema: schema) == expectedText)
            try await World.dropSchema(client, schema)
        }
        await producer.shutdown()
        await firstTarget.close()
        await secondTarget.close()
    }
}
