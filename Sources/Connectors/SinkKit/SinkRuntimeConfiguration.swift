import SluiceCore
import SluiceKafka

/// How a sink consumes: group, topics, batching, retries, dead letters.
public struct SinkRuntimeConfiguration: Sendable {
    /// The connector's name: metric label, health component, default dead-letter topic prefix.
    public var connectorName: String
    public var consumer: KafkaConsumerConfiguration
    /// For the dead-letter topic.
    public var producer: KafkaProducerConfiguration
    public var subscription: TopicSubscription
    /// At most this many messages per batch (one target transaction).
    public var batchSize: Int
    /// How long a poll waits for the first message of a batch.
    public var pollTimeout: Duration
    /// `<connector name>.dlq` unless set.
    public var deadLetterTopic: String
    public var retryBackoffInitial: Duration
    public var retryBackoffMax: Duration
    /// How often the consumer lag gauge is refreshed.
    public var lagInterval: Duration

    public init(
        connectorName: String,
        consumer: KafkaConsumerConfiguration,
        producer: KafkaProducerConfiguration? = nil,
        subscription: TopicSubscription,
        batchSize: Int = 500,
        pollTimeout: Duration = .milliseconds(250),
        deadLetterTopic: String? = nil,
        retryBackoffInitial: Duration = .milliseconds(500),
        retryBackoffMax: Duration = .seconds(30),
        lagInterval: Duration = .seconds(10)
    ) {
        self.connectorName = connectorName
        var consumer = consumer
        // A subscription only sees topics created after it (the source creates them on its first
        // start) at librdkafka's next metadata refresh: every 5 minutes by default.
        if consumer.connection.additionalProperties["topic.metadata.refresh.interval.ms"] == nil {
            consumer.connection.additionalProperties["topic.metadata.refresh.interval.ms"] = "5000"
        }
        // librdkafka fetches at most 1 MiB per partition per request by default: a few hundred messages
        // with schema blocks, so a sink catching up waited on fetches (measured: 13k → 18k messages/s at 8 MiB).
        if consumer.connection.additionalProperties["max.partition.fetch.bytes"] == nil {
            consumer.connection.additionalProperties["max.partition.fetch.bytes"] = "8388608"
        }
        // The pre-fetch queue holds 32 MiB (librdkafka's default is 64), several full batches of these
        // 5.9 KB messages. When it is over that size, librdkafka (≥ 2.1) postpones the partition's next
        // fetch by `fetch.queue.backoff.ms`, 1 s by default: a sink that drains the queue faster than that
        // then waits, idle, for the rest of the second (that wait is why a 64 MiB queue used to be needed:
        // 16 MiB 7.5k msg/s, 32 MiB 12.4k, 64 MiB 19.3k). Measured back to back on the credit topics (batch
        // 2,000): 21.0k msg/s at 1,000 ms, 39.5k at 50 ms, 42.7k / 41.6k at 10 ms; then, at 10 ms, queues of
        // 64 / 32 / 16 MiB: 61.3k and 49.8k / 56.3k and 56.1k / 49.6k and 50.7k msg/s, peak RSS 207–224 /
        // 152–159 / 135–141 MiB. `kafka.queued.max.messages.kbytes` and `kafka.fetch.queue.backoff.ms`
        // override them.
        if consumer.connection.additionalProperties["queued.max.messages.kbytes"] == nil {
            consumer.connection.additionalProperties["queued.max.messages.kbytes"] = "32768"
        }
        if consumer.connection.additionalProperties["fetch.queue.backoff.ms"] == nil {
            consumer.connection.additionalProperties["fetch.queue.backoff.ms"] = "10"
        }
        // librdkafka checks that queue only before a fetch (`rd_kafka_toppar_fetch_decide`: its message
        // count against `queued.min.messages`, the sum of the messages' uncompressed value sizes against
        // the kbytes), so it bounds a compressed topic the same way. What a sink reading a compressed topic
        // held beyond it came with the size of each fetch response, which is bounded on the wire only
        // (`fetch.max.bytes`; librdkafka makes it 32 MiB here, the queue's size) and is several times that
        // decompressed: on a 200,000-event lz4 backlog the replica sink's peak RSS was 289–306 MiB at the
        // old settings, whatever `queued.min.messages` (4,000 / 2,000) or `max.partition.fetch.bytes`
        // (2 MiB); with `fetch.max.bytes` 8 / 2 / 1 MiB 301 / 208–219 / 171 MiB. 1 MiB (librdkafka's floor,
        // `message.max.bytes`) is still thousands of compressed messages per fetch, and uncompressed one
        // fetch is then up to 1 MiB for all partitions (2 MiB: 25.7k against 26.9k msg/s, peak 161 against
        // 171 MiB). `kafka.fetch.max.bytes` overrides it.
        if consumer.connection.additionalProperties["fetch.max.bytes"] == nil {
            consumer.connection.additionalProperties["fetch.max.bytes"] = "1048576"
        }
        // A fetch with nothing new waits up to this long at the broker; the local broker holds every fetch
        // for the whole wait, even when data arrives (measured: published → visible p99 665 → 199 ms at
        // 50 ms). 100 ms costs a real Kafka ten empty fetches a second while idle.
        if consumer.connection.additionalProperties["fetch.wait.max.ms"] == nil {
            consumer.connection.additionalProperties["fetch.wait.max.ms"] = "100"
        }
        self.consumer = consumer
        self.producer = producer ?? KafkaProducerConfiguration(connection: consumer.connection.forProducer, linger: .milliseconds(1))
        self.subscription = subscription
        self.batchSize = batchSize
        self.pollTimeout = pollTimeout
        self.deadLetterTopic = deadLetterTopic ?? "\(connectorName).dlq"
        self.retryBackoffInitial = retryBackoffInitial
        self.retryBackoffMax = retryBackoffMax
        self.lagInterval = lagInterval
    }

    /// A sink's group session unless `kafka.session.timeout.ms` says otherwise: 10 s (Kafka's own
    /// default before 3.0) instead of librdkafka's 45 s. A group coordinator holds a new group's first
    /// join for part of the session timeout (the local broker for half of it: 22 s at 45 s) and hands a
    /// killed member's partitions over only when its session expires, so 10 s starts and fails over
    /// quickly while riding out a broker leader change or a long pause. Real Kafka accepts 6…1800 s
    /// (`group.min/max.session.timeout.ms`).
    public static let defaultSessionTimeout: Duration = .seconds(10)
    /// A third of the session timeout, as Kafka recommends.
    public static let defaultHeartbeatInterval: Duration = .seconds(3)

    /// The consumer a sink's connector file describes: `kafka.bootstrap.servers` (comma-separated),
    /// client id `sluice-<name>`, the `kafka.*` pass-through keys a consumer reads (an empty value, e.g.
    /// `kafka.group.instance.id: "${SLUICE_GROUP_INSTANCE_ID:-}"` without the variable, is left out),
    /// unread partitions from the earliest offset, the session defaults above.
    public static func consumer(connectorName: String, bootstrapServers: String, kafkaProperties: [(String, String)],
                                groupID: String) -> KafkaConsumerConfiguration {
        let connection = KafkaConnectionConfiguration(
            bootstrapServers: KafkaConnectionConfiguration.bootstrapServerList(bootstrapServers),
            clientID: "sluice-\(connectorName)",
            additionalProperties: Dictionary(kafkaProperties.filter { !$0.1.isEmpty }, uniquingKeysWith: { _, last in last }))
        return KafkaConsumerConfiguration(connection: connection.forConsumer, groupID: groupID,
                                          sessionTimeout: defaultSessionTimeout, heartbeatInterval: defaultHeartbeatInterval,
                                          offsetReset: .earliest)
    }
}
