/// librdkafka warns (CONFWARN) about every property that belongs to the other kind of client. A
/// connector's `kafka.*` keys reach both its consumers and its producers (and admin clients, which are
/// producer handles), so each gets only the pass-through properties that apply to it.
extension KafkaConnectionConfiguration {
    /// Properties only a consumer reads (librdkafka's CONFIGURATION.md, scope `C`).
    public static let consumerOnlyProperties: Set<String> = [
        "group.id", "group.instance.id", "partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms",
        "group.protocol.type", "group.protocol", "group.remote.assignor", "coordinator.query.interval.ms",
        "max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms", "enable.auto.offset.store",
        "queued.min.messages", "queued.max.messages.kbytes", "fetch.wait.max.ms", "fetch.queue.backoff.ms",
        "fetch.message.max.bytes", "max.partition.fetch.bytes", "fetch.max.bytes", "fetch.min.bytes",
        "fetch.error.backoff.ms", "offset.store.method", "isolation.level", "enable.partition.eof", "check.crcs",
        "allow.auto.create.topics", "auto.offset.reset", "consume.callback.max.messages",
    ]

    /// Properties only a producer reads (scope `P`).
    public static let producerOnlyProperties: Set<String> = [
        "transactional.id", "transaction.timeout.ms", "enable.idempotence", "enable.gapless.guarantee",
        "queue.buffering.max.messages", "queue.buffering.max.kbytes", "queue.buffering.max.ms", "linger.ms",
        "message.send.max.retries", "retries", "queue.buffering.backpressure.threshold",
        "compression.codec", "compression.type", "compression.level", "batch.num.messages", "batch.size",
        "delivery.report.only.error", "sticky.partitioning.linger.ms", "acks", "request.required.acks",
        "request.timeout.ms", "message.timeout.ms", "delivery.timeout.ms", "partitioner", "queuing.strategy",
    ]

    /// This configuration without the pass-through properties only a consumer reads.
    public var forProducer: KafkaConnectionConfiguration {
        var copy = self
        copy.additionalProperties = additionalProperties.filter { !Self.consumerOnlyProperties.contains($0.key) }
        return copy
    }

    /// This configuration without the pass-through properties only a producer reads.
    public var forConsumer: KafkaConnectionConfiguration {
        var copy = self
        copy.additionalProperties = additionalProperties.filter { !Self.producerOnlyProperties.contains($0.key) }
        return copy
    }
}
