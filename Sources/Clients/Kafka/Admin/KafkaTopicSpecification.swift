/// A topic to create.
public struct KafkaTopicSpecification: Sendable, Hashable {
    public var name: String
    public var partitions: Int32
    /// -1 for the broker's default.
    public var replicationFactor: Int32
    /// Topic configs, e.g. `["cleanup.policy": "compact"]`.
    public var configs: [String: String]

    public init(name: String, partitions: Int32 = 1, replicationFactor: Int32 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }

    /// A log-compacted topic (`cleanup.policy=compact`): the latest value per key is kept forever.
    public static func compacted(name: String, partitions: Int32 = 1, replicationFactor: Int32 = -1, configs: [String: String] = [:]) -> Self {
        Self(name: name, partitions: partitions, replicationFactor: replicationFactor, configs: configs.merging(["cleanup.policy": "compact"]) { current, _ in current })
    }
}
