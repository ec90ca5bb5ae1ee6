/// The producer: idempotent, `acks=all`, so that a message the broker acknowledged is durable and a
/// retry never duplicates or reorders within a partition.
public struct KafkaProducerConfiguration: Sendable, CustomStringConvertible {
    public enum Compression: String, Sendable {
        case none, gzip, snappy, lz4, zstd
    }

    public var connection: KafkaConnectionConfiguration
    /// `linger.ms`: how long to wait to fill a batch.
    public var linger: Duration
    /// `message.timeout.ms`: give up on a message (delivery error `_MSG_TIMED_OUT`) after this long.
    public var messageTimeout: Duration
    /// `compression.type`.
    public var compression: Compression
    /// `queue.buffering.max.messages`: local queue size; when full `send` waits (polls and retries).
    public var queueBufferingMaxMessages: Int
    /// `queue.buffering.max.kbytes`.
    public var queueBufferingMaxKilobytes: Int
    /// How often the delivery-report thread wakes when idle (`rd_kafka_poll` timeout).
    public var pollInterval: Duration
    /// `partitioner` for messages sent without an explicit partition: `murmur2_random` by default, the
    /// Java client's (`murmur2(key) mod partitions`, a random partition for a null key), so a key lands
    /// on the same partition whichever client wrote it.
    public var partitioner: String

    public init(
        connection: KafkaConnectionConfiguration,
        linger: Duration = .milliseconds(5),
        messageTimeout: Duration = .seconds(300),
        compression: Compression = .none,
        queueBufferingMaxMessages: Int = 100_000,
        queueBufferingMaxKilobytes: Int = 1_048_576,
        pollInterval: Duration = .milliseconds(100),
        partitioner: String = "murmur2_random"
    ) {
        self.connection = connection
        self.linger = linger
        self.messageTimeout = messageTimeout
        self.compression = compression
        self.queueBufferingMaxMessages = queueBufferingMaxMessages
        self.queueBufferingMaxKilobytes = queueBufferingMaxKilobytes
        self.pollInterval = pollInterval
        self.partitioner = partitioner
    }

    /// The librdkafka properties this configuration stands for.
    public func properties() throws -> KafkaProperties {
        var properties = KafkaProperties()
        properties.set("linger.ms", String(linger.milliseconds))
        properties.set("message.timeout.ms", String(messageTimeout.milliseconds))
        properties.set("compression.type", compression.rawValue)
        properties.set("queue.buffering.max.messages", String(queueBufferingMaxMessages))
        properties.set("queue.buffering.max.kbytes", String(queueBufferingMaxKilobytes))
        properties.set("partitioner", partitioner)
        connection.render(into: &properties)
        try properties.require("enable.idempotence", "true", because: "retries must not duplicate or reorder events")
        try properties.require("acks", "all", because: "an acknowledged event must survive a broker failure")
        try properties.require("log.queue", "true", because: "librdkafka's log lines are forwarded from the poll thread")
        return properties
    }

    public var description: String {
        (try? properties().description) ?? connection.description
    }
}
