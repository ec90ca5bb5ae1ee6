/// What the cluster says about a topic.
public struct KafkaTopicDescription: Sendable, Hashable {
    public var name: String
    /// Partition ids, ascending.
    public var partitions: [Int32]
    /// Topic configs as the broker reports them (explicit and default values).
    public var configs: [String: String]

    public var partitionCount: Int { partitions.count }

    public init(name: String, partitions: [Int32], configs: [String: String]) {
        self.name = name
        self.partitions = partitions
        self.configs = configs
    }
}
