/// The admin client (create, describe and list topics).
public struct KafkaAdminConfiguration: Sendable, CustomStringConvertible {
    public var connection: KafkaConnectionConfiguration
    /// How long one admin request may take (`request_timeout` of the admin options).
    public var requestTimeout: Duration

    public init(connection: KafkaConnectionConfiguration, requestTimeout: Duration = .seconds(30)) {
        self.connection = connection
        self.requestTimeout = requestTimeout
    }

    /// The librdkafka properties this configuration stands for.
    public func properties() throws -> KafkaProperties {
        var properties = KafkaProperties()
        connection.render(into: &properties)
        try properties.require("log.queue", "true", because: "librdkafka's log lines are forwarded from the poll thread")
        return properties
    }

    public var description: String {
        (try? properties().description) ?? connection.description
    }
}
