/// Logger metadata keys used by the Kafka client, in one place.
public enum KafkaLoggingKeys {
    /// librdkafka's log facility (e.g. "FAIL", "REQTMOUT", "CGRPSTATE").
    public static let facility = "kafka.facility"
    /// librdkafka's instance name (`rd_kafka_name`, e.g. "sluice#producer-1").
    public static let client = "kafka.client"
    public static let topic = "kafka.topic"
    public static let partition = "kafka.partition"
    public static let offset = "kafka.offset"
    public static let group = "kafka.group"
    public static let partitions = "kafka.partitions"
    public static let error = "kafka.error"
    public static let rebalanceProtocol = "kafka.rebalance.protocol"
}
