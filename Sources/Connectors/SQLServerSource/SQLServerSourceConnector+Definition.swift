import ServiceLifecycle
import SluiceCore

/// `connector.class` `sqlserver-source` (and Debezium's `io.debezium.connector.sqlserver.SqlServerConnector`).
extension SQLServerSourceConnector: ConnectorDefinition {
    public typealias Configuration = SQLServerSourceConfiguration

    public static func makeService(_ configuration: SQLServerSourceConfiguration, context: ConnectorContext) -> any Service {
        SQLServerSourceConnector(configuration: configuration, health: context.health, logger: context.logger, lineage: context.lineage,
                                 signals: context.signals)
    }

    /// None up front: the source names the captured tables (with their columns) once it has read the catalog.
    public static func startingLineageDatasets(_ configuration: SQLServerSourceConfiguration) -> ConnectorLineageDatasets? { nil }
}
