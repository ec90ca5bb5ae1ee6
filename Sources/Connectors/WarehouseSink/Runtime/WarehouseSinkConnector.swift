import Logging
import SluiceCore
import SluiceKafka
import SluiceSinkKit

/// Assembles the warehouse sink from its connector file: what `sluice run` calls for `warehouse-sink`.
public enum WarehouseSinkConnector {
    /// The service for `configuration` (run it in a `ServiceGroup`).
    public static func makeService(configuration: WarehouseSinkConfiguration, health: HealthRegistry? = nil, logger: Logger) -> WarehouseSinkService {
        let target = WarehouseTarget(configuration, logger: logger)
        return WarehouseSinkService(runtime: SinkRuntime(configuration: runtimeConfiguration(configuration), target: target,
                                                         health: health, logger: logger),
                                    target: target)
    }

    /// How the runtime consumes, from the connector's keys (`kafka.*` keys pass through to librdkafka).
    public static func runtimeConfiguration(_ configuration: WarehouseSinkConfiguration) -> SinkRuntimeConfiguration {
        let consumer = SinkRuntimeConfiguration.consumer(
            connectorName: configuration.name, bootstrapServers: configuration.kafkaBootstrapServers,
            kafkaProperties: configuration.kafkaProperties, groupID: configuration.groupID)
        return SinkRuntimeConfiguration(
            connectorName: configuration.name, consumer: consumer, subscription: .topics(configuration.topics),
            batchSize: configuration.batchSize, pollTimeout: .milliseconds(configuration.pollTimeoutMs),
            deadLetterTopic: configuration.deadLetterTopic,
            retryBackoffInitial: .milliseconds(configuration.retryBackoffInitialMs),
            retryBackoffMax: .milliseconds(configuration.retryBackoffMaxMs))
    }
}
