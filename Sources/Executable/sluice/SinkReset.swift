import Foundation
import Logging
import SluiceCore
import SluiceKafka
import SluiceSinkKit

/// A sink's offsets as `sluice offsets` sees them: stored in its target database per partition, next
/// to the partitions' offsets in Kafka.
struct SinkReset {
    enum Target { case earliest, latest, offset(Int64) }

    struct Row {
        let partition: TopicPartition
        let stored: Int64?
        let low: Int64
        let end: Int64
        var lag: Int64 { end - (stored ?? low) }
    }

    struct Planned {
        let partition: TopicPartition
        let stored: Int64?
        let new: Int64
    }

    let name: String
    let groupID: String
    let bootstrapServers: String
    let kafkaProperties: [(String, String)]
    let topics: [String]
    let topicPattern: String?
    let makeTarget: @Sendable (Logger) -> (target: any SinkTarget, close: @Sendable () async -> Void)

    /// From the sink's connector definition (``SinkConnectorDefinition/offsets(_:)``).
    init(_ access: SinkOffsetsAccess) {
        name = access.name
        groupID = access.groupID
        bootstrapServers = access.bootstrapServers
        kafkaProperties = access.kafkaProperties
        switch access.subscription {
        case .topics(let list): topics = list; topicPattern = nil
        case .regex(let pattern): topics = []; topicPattern = pattern
        }
        makeTarget = access.makeTarget
    }

    var connection: KafkaConnectionConfiguration {
        KafkaConnectionConfiguration(
            bootstrapServers: KafkaConnectionConfiguration.bootstrapServerList(bootstrapServers),
            clientID: "sluice-offsets-\(name)",
            additionalProperties: Dictionary(kafkaProperties.filter { !$0.1.isEmpty && $0.0 != "group.instance.id" }, uniquingKeysWith: { _, last in last }))
    }

    func withAdmin<T>(logger: Logger, _ body: (KafkaAdminClient) async throws -> T) async throws -> T {
        try await OffsetsCommand.withAdmin(connection, logger: logger, body)
    }

    /// The members of the sink's consumer group right now (a running sink is one).
    func memberCount(logger: Logger) async throws -> Int {
        try await withAdmin(logger: logger) { try await $0.memberCount(ofGroup: groupID) }
    }

    /// Every partition of the topics the sink subscribes to, with its stored and Kafka offsets.
    func offsets(logger: Logger) async throws -> [Row] {
        let partitions: [TopicPartition] = try await withAdmin(logger: logger) { admin in
            var names = topics
            if let topicPattern {
                let regex = try Regex(topicPattern.hasPrefix("^") ? String(topicPattern.dropFirst()) : topicPattern)
                names = try await admin.listTopics().filter { (try? regex.wholeMatch(in: $0)) != nil }
            }
            return try await admin.describeTopics(names.sorted()).flatMap { topic in
                topic.partitions.map { TopicPartition(topic: topic.name, partition: $0) }
            }
        }
        let (target, close) = makeTarget(logger)
        let stored: [TopicPartition: Int64]
        do {
            stored = try await target.storedOffsets(for: partitions)
        } catch {
            await close()
            throw error
        }
        await close()
        // A consumer outside the sink's group (it joins nothing) reads the watermarks.
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
            connection: connection.forConsumer, groupID: "sluice-offsets-\(UUID().uuidString)"), logger: logger)
        var rows: [Row] = []
        do {
            for partition in partitions.sorted() {
                let marks = try await consumer.watermarks(for: partition)
                // The local broker (Tansu) under-reports a partition's latest offset to ListOffsets (see
                // KafkaConsumer.lag); nothing can be stored past the end, so the stored offset bounds it.
                let end = max(marks.high, stored[partition] ?? 0)
                rows.append(Row(partition: partition, stored: stored[partition], low: marks.low, end: end))
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
        return rows
    }

    /// The offsets a reset to `target` stores (never below a partition's earliest offset).
    func plan(_ target: Target, logger: Logger) async throws -> [Planned] {
        try await offsets(logger: logger).map { row in
            let new: Int64 = switch target {
            case .earliest: row.low
            case .latest: row.end
            // Not clamped to the end: the local broker under-reports it (above); past the real end
            // the consumer starts at auto.offset.reset (earliest).
            case .offset(let offset): max(offset, row.low)
            }
            return Planned(partition: row.partition, stored: row.stored, new: new)
        }
    }

    /// Stores `plan` in the target, in one transaction (an offsets-only batch).
    func store(_ plan: [Planned], logger: Logger) async throws {
        let (target, close) = makeTarget(logger)
        do {
            _ = try await target.apply(SinkBatch(records: [], nextOffsets: Dictionary(uniqueKeysWithValues: plan.map { ($0.partition, $0.new) })))
        } catch {
            await close()
            throw error
        }
        await close()
    }
}
