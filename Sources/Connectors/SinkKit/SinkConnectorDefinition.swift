import Logging
import SluiceCore

/// A sink's connector definition: also how `sluice offsets` reaches the offsets the sink keeps in its
/// target database.
public protocol SinkConnectorDefinition: ConnectorDefinition {
    static func offsets(_ configuration: Configuration) -> SinkOffsetsAccess
}

extension SinkConnectorDefinition {
    /// `offsets(configuration)` when `configuration` is this sink's.
    public static func offsets(of configuration: any ConnectorConfiguration) -> SinkOffsetsAccess? {
        (configuration as? Configuration).map { offsets($0) }
    }
}

/// What `sluice offsets show|reset` needs of a sink: its consumer group, its topics, and its target
/// (where the offsets are stored).
public struct SinkOffsetsAccess: Sendable {
    public let name: String
    public let groupID: String
    public let bootstrapServers: String
    public let kafkaProperties: [(String, String)]
    public let subscription: TopicSubscription
    /// Opens the target; call `close` when done.
    public let makeTarget: @Sendable (Logger) -> (target: any SinkTarget, close: @Sendable () async -> Void)

    public init(name: String, groupID: String, bootstrapServers: String, kafkaProperties: [(String, String)],
                subscription: TopicSubscription,
                makeTarget: @escaping @Sendable (Logger) -> (target: any SinkTarget, close: @Sendable () async -> Void)) {
        self.name = name
        self.groupID = groupID
        self.bootstrapServers = bootstrapServers
        self.kafkaProperties = kafkaProperties
        self.subscription = subscription
        self.makeTarget = makeTarget
    }
}
