import ServiceLifecycle
import SluiceCore
import SluiceSinkKit

/// `connector.class` `warehouse-sink`.
extension WarehouseSinkConnector: SinkConnectorDefinition {
    public typealias Configuration = WarehouseSinkConfiguration

    /// (The warehouse sink reports no lineage while it runs: its datasets are all known up front.)
    public static func makeService(_ configuration: WarehouseSinkConfiguration, context: ConnectorContext) -> any Service {
        makeService(configuration: configuration, health: context.health, logger: context.logger)
    }

    public static func startingLineageDatasets(_ configuration: WarehouseSinkConfiguration) -> ConnectorLineageDatasets? {
        lineageDatasets(configuration)
    }

    public static func offsets(_ configuration: WarehouseSinkConfiguration) -> SinkOffsetsAccess {
        SinkOffsetsAccess(name: configuration.name, groupID: configuration.groupID,
                          bootstrapServers: configuration.kafkaBootstrapServers, kafkaProperties: configuration.kafkaProperties,
                          subscription: .topics(configuration.topics)) { logger in
            let target = WarehouseTarget(configuration, logger: logger)
            return (target, target.close)
        }
    }
}
