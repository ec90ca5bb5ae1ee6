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
        // Messages come in runs of one partition: its next offset is noted once per run.
        var run: (partition: TopicPartition, next: Int64)?
        func endRun() {
            if let run { next[run.partition] = max(next[run.partition] ?? 0, run.next) }
        }
        for message in messages where skipping.isEmpty || !skipping.contains(message.topic) {
            if let current = run, current.partition.partition == message.partition, current.partition.topic == message.topic {
                run!.next = max(current.next, message.offset + 1)
            } else {
                endRun()
                run = (message.topicPartition, message.offset + 1)
            }
            guard let value = message.value else { continue }  // tombstone: only the offset advances
            do {
                records.append(try decode(message, value: value))
            } catch {
                deadLetters.append(DeadLetter(message: message, error: "\(error)"))
            }
        }
        endRun()
        return Result(batch: SinkBatch(records: records, nextOffsets: next), deadLetters: deadLetters)
    }

    static func decode(_ message: KafkaMessage, value: [UInt8]) throws -> SinkRecord {
        let cache = SchemaBlockCache.shared
        let event: ChangeEvent
        let schema: TableSchema?
        let split = SchemaBlockCache.split(value)
        let keySplit = split == nil ? nil : message.key.flatMap { SchemaBlockCache.split($0) }
        // Only the payloads are parsed per message; the schema blocks (value and key) are parsed once.
        // A payload range that does not decode falls back to decoding the whole message.
        if let split, let payloadEvent = try? DebeziumEnvelope.decode(
            key: message.key.map { key in keySplit.map { key[$0.payload] } ?? key[...] }, value: value[split.payload]) {
            event = payloadEvent
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
