import SluiceCore
import SluiceKafka

/// Turns polled messages into a batch: decodes each message, skips tombstones (their offsets still
/// advance), and sets aside what cannot be decoded for the dead-letter topic.
public enum SinkBatchBuilder {
    public struct DeadLetter: Sendable {
        public var message: KafkaMessage
        public var error: String
    }

    public struct Result: Sendable {
        public var batch: SinkBatch
        public var deadLetters: [DeadLetter]
    }

    /// - Parameter skipping: partitions whose messages are left out entirely (stopped tables): neither
    ///   applied nor their offsets advanced.
    public static func build(_ messages: [KafkaMessage], skipping: Set<String> = []) -> Result {
        var records: [SinkRecord] = []
        records.reserveCapacity(messages.count)
        var next: [TopicPartition: Int64] = [:]
        var deadLetters: [DeadLetter] = []
        for message in messages where !skipping.contains(message.topic) {
            next[message.topicPartition] = max(next[message.topicPartition] ?? 0, message.offset + 1)
            guard let value = message.value else { continue }  // tombstone: only the offset advances
            do {
                records.append(try decode(message, value: value))
            } catch {
                deadLetters.append(DeadLetter(message: message, error: "\(error)"))
            }
        }
        return Result(batch: SinkBatch(records: records, nextOffsets: next), deadLetters: deadLetters)
    }

    static func decode(_ message: KafkaMessage, value: [UInt8]) throws -> SinkRecord {
        let cache = SchemaBlockCache.shared
        let event: ChangeEvent
        let schema: TableSchema?
        if let split = SchemaBlockCache.split(value) {
            // Only the payloads are parsed per message; the schema blocks (value and key) are parsed once.
            let keySplit = message.key.flatMap { SchemaBlockCache.split($0) }
            event = try DebeziumEnvelope.decode(key: message.key.map { key in keySplit.map { key[$0.payload] } ?? key[...] },
                                                value: value[split.payload])
            schema = try cache.schema(value: value, valueBlock: split.schema, key: message.key, keyBlock: keySplit?.schema) {
                try DebeziumEnvelope.decodeSchema(key: message.key, value: value, table: event.table)
            }.map { cached in
                guard cached.table != event.table else { return cached }
                var schema = cached
                schema.table = event.table
                return schema
            }
        } else {
            event = try DebeziumEnvelope.decode(key: message.key, value: value)
            schema = try DebeziumEnvelope.decodeSchema(key: message.key, value: value, table: event.table)
        }
        guard !event.key.fields.isEmpty else {
            throw SinkError(code: .invalidMessage, message: "the message has no key: sinks need the primary key as the Kafka message key (set message.key.columns for tables without a primary key)")
        }
        return SinkRecord(event: event, schema: schema, message: message)
    }
}
