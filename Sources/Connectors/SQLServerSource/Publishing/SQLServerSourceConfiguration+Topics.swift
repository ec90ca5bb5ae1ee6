import SluiceCore
import SluiceKafka

extension SQLServerSourceConfiguration {
    /// The topic the source creates when `name` is missing: `topic.creation.default.partitions` and
    /// `topic.creation.default.replication.factor` (-1: the broker's default).
    func topicSpecification(_ name: String) -> KafkaTopicSpecification {
        KafkaTopicSpecification(name: name, partitions: Int32(topicCreationDefaultPartitions),
                                replicationFactor: Int32(topicCreationDefaultReplicationFactor))
    }
}
