/// The topics a sink consumes: the connector file's `topics` or `topics.regex`, and what the Kafka
/// consumer subscribes to.
public enum TopicSubscription: Sendable, Hashable {
    /// Exact topic names.
    case topics([String])
    /// A regular expression (librdkafka's syntax) every topic name is matched against.
    case regex(String)

    /// What `KafkaConsumer.subscribe` takes (a regex starts with `^`).
    public var subscribeList: [String] {
        switch self {
        case .topics(let topics): topics
        case .regex(let pattern): [pattern.hasPrefix("^") ? pattern : "^" + pattern]
        }
    }
}
