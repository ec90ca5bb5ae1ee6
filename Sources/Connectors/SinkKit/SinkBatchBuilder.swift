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
            // Only the payload is parsed per message; the schema blocks (value and key) are parsed once.
            event = try DebeziumEnvelope.decode(key: message.key, value: Array(value[split.payload]))
            var cacheKey = Array(value[split.schema])
            if let key = message.key, let keySplit = SchemaBlockCache.split(key) {
                cacheKey.append(0)
                cacheKey += key[keySplit.schema]
            } else {
                cacheKey.append(1)  // schemaless key: the table's key columns are the same for every message
            }
            schema = try cache.schema(for: cacheKey) {
                try DebeziumEnvelope.decodeSchema(key: message.key, value: value, table: event.table)
            }.map { cached in
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
