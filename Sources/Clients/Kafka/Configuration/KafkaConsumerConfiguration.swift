/// A consumer-group member with manual offsets: nothing is committed unless the application says so.
public struct KafkaConsumerConfiguration: Sendable, CustomStringConvertible {
    /// `partition.assignment.strategy`.
    public enum AssignmentStrategy: String, Sendable {
        /// Incremental (cooperative) rebalancing: only moved partitions are revoked.
        case cooperativeSticky = "cooperative-sticky"
        /// Eager: every member gives up everything on each rebalance.
        case range
        case roundRobin = "roundrobin"
    }

    /// `auto.offset.reset`: where to start when a partition has no committed offset and the
    /// assignment hook supplied none.
    public enum OffsetReset: String, Sendable {
        case earliest, latest
        /// Fail instead (`consume` error `_AUTO_OFFSET_RESET`).
        case error
    }

    public var connection: KafkaConnectionConfiguration
    /// `group.id`.
    public var groupID: String
    /// `session.timeout.ms`.
    public var sessionTimeout: Duration
    /// `heartbeat.interval.ms`.
    public var heartbeatInterval: Duration
    /// `max.poll.interval.ms`: the application must poll at least this often (also bounds how long an
    /// assignment hook may take).
    public var maxPollInterval: Duration
    public var assignmentStrategy: AssignmentStrategy
    public var offsetReset: OffsetReset
    /// `isolation.level=read_committed` when true (Sluice does not rely on transactions; default false).
    public var readCommitted: Bool
    /// `group.instance.id` for static membership, if any.
    public var groupInstanceID: String?

    public init(
        connection: KafkaConnectionConfiguration,
        groupID: String,
        sessionTimeout: Duration = .seconds(45),
        heartbeatInterval: Duration = .seconds(3),
        maxPollInterval: Duration = .seconds(300),
        assignmentStrategy: AssignmentStrategy = .cooperativeSticky,
        offsetReset: OffsetReset = .earliest,
        readCommitted: Bool = false,
        groupInstanceID: String? = nil
    ) {
        self.connection = connection
        self.groupID = groupID
        self.sessionTimeout = sessionTimeout
        self.heartbeatInterval = heartbeatInterval
        self.maxPollInterval = maxPollInterval
        self.assignmentStrategy = assignmentStrategy
        self.offsetReset = offsetReset
        self.readCommitted = readCommitted
        self.groupInstanceID = groupInstanceID
    }

    /// The librdkafka properties this configuration stands for.
    public func properties() throws -> KafkaProperties {
        var properties = KafkaProperties()
        properties.set("group.id", groupID)
        properties.set("session.timeout.ms", String(sessionTimeout.milliseconds))
        properties.set("heartbeat.interval.ms", String(heartbeatInterval.milliseconds))
        properties.set("max.poll.interval.ms", String(maxPollInterval.milliseconds))
        properties.set("partition.assignment.strategy", assignmentStrategy.rawValue)
        properties.set("auto.offset.reset", offsetReset.rawValue)
        properties.set("isolation.level", readCommitted ? "read_committed" : "read_uncommitted")
        if let groupInstanceID { properties.set("group.instance.id", groupInstanceID) }
        connection.render(into: &properties)
        try properties.require("enable.auto.commit", "false", because: "offsets are committed only by the application, after it applied the events")
        try properties.require("enable.auto.offset.store", "false", because: "offsets are committed only by the application, after it applied the events")
        try properties.require("log.queue", "true", because: "librdkafka's log lines are forwarded from the poll thread")
        return properties
    }

    public var description: String {
        (try? properties().description) ?? connection.description
    }
}
