import ServiceLifecycle
import SluiceCore
import SluiceSinkKit

/// `connector.class` `postgres-sink`.
extension PostgresSinkConnector: SinkConnectorDefinition {
    public typealias Configuration = PostgresSinkConfiguration

    public static func makeService(_ configuration: PostgresSinkConfiguration, context: ConnectorContext) -> any Service {
        makeService(configuration: configuration, health: context.health, logger: context.logger, lineage: context.lineage)
    }

    public static func startingLineageDatasets(_ configuration: PostgresSinkConfiguration) -> ConnectorLineageDatasets? {
        lineageDatasets(configuration)
    }

    public static func offsets(_ configuration: PostgresSinkConfiguration) -> SinkOffsetsAccess {
        SinkOffsetsAccess(name: configuration.name, groupID: configuration.groupID,
                          bootstrapServers: configuration.kafkaBootstrapServers, kafkaProperties: configuration.kafkaProperties,
                          subscription: configuration.subscription) { logger in
            let target = PostgresSinkTarget(configuration: configuration, logger: logger)
            return (target, target.close)
        }
    }
}
