import Foundation
import Logging
import SluiceCore
import SluiceKafka

/// Stores each database's `SourceOffset` in the compacted topic `__sluice-offsets.<prefix>` (one
/// partition), key `{"server": <prefix>, "database": <db>}`: Kafka Connect's offset-topic idea, with the
/// write acknowledged (acks=all) before the position counts as stored.
///
/// Reading the latest value does not trust the end offset the broker reports (Tansu's ListOffsets is off
/// by a batch): it writes a tombstone sentinel with a unique key and reads until it sees it, so every
/// record written before is read.
public struct SourcePositionStore: Sendable {
    public let topic: String
    public let server: String
    public let connection: KafkaConnectionConfiguration
    /// The topic's replication factor when it is created (`topic.creation.default.replication.factor`;
    /// -1: the broker's default).
    public let replicationFactor: Int32
    let logger: Logger

    public init(topic: String, server: String, connection: KafkaConnectionConfiguration, logger: Logger, replicationFactor: Int32 = -1) {
        self.topic = topic
        self.server = server
        self.connection = connection
        self.replicationFactor = replicationFactor
        self.logger = logger
    }

    func key(_ database: String) -> [UInt8] {
        JSONValue.object(["server": .string(server), "database": .string(database)]).serialized()
    }

    /// Creates the compacted topic when missing.
    public func prepare(admin: KafkaAdminClient) async throws {
        _ = try await admin.ensureTopic(KafkaTopicSpecification(
            name: topic, partitions: 1, replicationFactor: replicationFactor, configs: ["cleanup.policy": "compact"]))
    }

    /// Removes the stored offset of `database` (a tombstone): its next start is a first start.
    public func remove(database: String, producer: KafkaProducer) async throws {
        try await producer.send(topic: topic, key: key(database), value: nil, partition: 0)
    }

    /// Durably stores `offset` for `database` (waits for the broker's acknowledgement).
    public func store(_ offset: SourceOffset, database: String, producer: KafkaProducer) async throws {
        try await producer.send(topic: topic, key: key(database), value: offset.json.serialized(), partition: 0)
    }

    /// The latest stored offset of each database named in `databases` (absent when none was stored).
    public func load(databases: Set<String>, producer: KafkaProducer) async throws -> [String: SourceOffset] {
        let sentinel = JSONValue.object(["sentinel": .string(UUID().uuidString)]).serialized()
        let report = try await producer.send(topic: topic, key: sentinel, value: nil, partition: 0)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                connection: connection.forConsumer, groupID: "__sluice-offsets-reader-\(UUID().uuidString)",
                sessionTimeout: .seconds(6), heartbeatInterval: .seconds(1), assignmentStrategy: .range, offsetReset: .earliest),
            hooks: KafkaRebalanceHooks(onAssign: { partitions in
                Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(0)) })
            }),
            logger: logger)
        do {
            try consumer.subscribe(topics: [topic])
            var offsets: [String: SourceOffset] = [:]
            let deadline = ContinuousClock.now + .seconds(120)
            reading: while ContinuousClock.now < deadline {
                for message in try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(500)) {
                    if message.key == sentinel { break reading }
                    guard message.offset < report.offset, let keyBytes = message.key,
                          case .object(let k) = try JSONValue.parse(keyBytes),
                          k["server"]?.stringValue == server, let db = k["database"]?.stringValue, databases.contains(db)
                    else { continue }
                    if let value = message.value {
                        offsets[db] = try SourceOffset(json: JSONValue.parse(value))
                    } else {
                        offsets[db] = nil
                    }
                }
            }
            await consumer.close()
            guard ContinuousClock.now < deadline else {
                throw SourcePositionStoreError(description: "reading \(topic) did not reach its end within 120 s; is the broker healthy?")
            }
            return offsets
        } catch {
            await consumer.close()
            throw error
        }
    }
}

public struct SourcePositionStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
}
