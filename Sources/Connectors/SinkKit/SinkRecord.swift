import SluiceCore
import SluiceKafka

/// One decoded change event and where it came from.
///
/// A reference, immutable: a record passes through a batch, its table's group and the net effect, and
/// is shared there, not copied (as a struct every copy retained and released its dozen references: 17 %
/// of the Postgres sink's samples, measured with perf).
public final class SinkRecord: Sendable {
    public let event: ChangeEvent
    /// The row schema from the message's Connect schema block (nil when the source sends none).
    public let schema: TableSchema?
    /// The message it was decoded from (for the dead-letter topic and logs).
    public let message: KafkaMessage

    public init(event: ChangeEvent, schema: TableSchema?, message: KafkaMessage) {
        self.event = event
        self.schema = schema
        self.message = message
    }

    public var topicPartition: TopicPartition { message.topicPartition }
    public var offset: Int64 { message.offset }
}

/// What an applier applies in one target transaction.
///
/// `records` are in partition order (the order the consumer returned them; records of one partition keep
/// their offset order). `nextOffsets` holds, for every partition the batch covers, the offset of the next
/// message to read — past tombstones and dead-lettered messages too — and must be stored in the SAME
/// transaction as the rows. A batch may hold no records and only offsets (e.g. all tombstones).
public struct SinkBatch: Sendable {
    public var records: [SinkRecord]
    public var nextOffsets: [TopicPartition: Int64]

    public init(records: [SinkRecord], nextOffsets: [TopicPartition: Int64]) {
        self.records = records
        self.nextOffsets = nextOffsets
    }
}

/// What an applier reports for a committed batch.
public struct SinkApplyOutcome: Sendable, Equatable {
    /// Events whose effect was written, per target table name.
    public var applied: [String: Int]
    /// Events ignored because the target already reflects a newer (or the same) source position.
    public var stale: Int

    public init(applied: [String: Int] = [:], stale: Int = 0) {
        self.applied = applied
        self.stale = stale
    }
}
