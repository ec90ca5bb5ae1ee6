import struct Foundation.Date

/// One record read from Kafka.
public struct KafkaMessage: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// `nil` when the record has no key.
    public var key: [UInt8]?
    /// `nil` for a tombstone.
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// The record's timestamp (create time or log-append time), when it has one.
    public var timestamp: Date?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], timestamp: Date? = nil) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

    /// True when the value is null (Kafka's delete marker for compacted topics).
    public var isTombstone: Bool { value == nil }

    public var description: String {
        "\(topic)[\(partition)]@\(offset) key \(key.map { "\($0.count) bytes" } ?? "null"), value \(value.map { "\($0.count) bytes" } ?? "null (tombstone)")"
    }
}
