import Logging
import SluiceCore
import SluiceKafka
import SluiceSinkKit

/// Assembles the Postgres sink from its connector file: what `sluice run` calls for `postgres-sink`.
public enum PostgresSinkConnector {
    /// The service for `configuration` (run it in a `ServiceGroup`).
    /// - Parameter lineage: receives the replica tables as their layouts are learned (RUNNING); nil emits none.
    public static func makeService(configuration: PostgresSinkConfiguration, health: HealthRegistry? = nil, logger: Logger,
                                   lineage: LineageRun? = nil) -> PostgresSinkService {
        PostgresSinkService(configuration: configuration, runtimeConfiguration: runtimeConfiguration(configuration), health: health,
                            logger: logger, lineage: lineage)
    }

    /// How the runtime consumes, from the connector's keys (`kafka.*` keys pass through to librdkafka).
    public static func runtimeConfiguration(_ configuration: PostgresSinkConfiguration) -> SinkRuntimeConfiguration {
        let consumer = SinkRuntimeConfiguration.consumer(
            connectorName: configuration.name, bootstrapServers: configuration.kafkaBootstrapServers,
            kafkaProperties: configuration.kafkaProperties, groupID: configuration.groupID)
        return SinkRuntimeConfiguration(
            connectorName: configuration.name, consumer: consumer, subscription: configuration.subscription,
            batchSize: configuration.batchSize, pollTimeout: .milliseconds(configuration.pollTimeoutMs),
            deadLetterTopic: configuration.deadLetterTopic,
            retryBackoffInitial: .milliseconds(configuration.retryBackoffInitialMs),
            retryBackoffMax: .milliseconds(configuration.retryBackoffMaxMs))
    }

    /// `application_name` of the sink's Postgres sessions: `sluice-<connector name>`.
    public static func applicationName(_ configuration: PostgresSinkConfiguration) -> String {
        String("sluice-\(configuration.name)".prefix(63))
    }
}
