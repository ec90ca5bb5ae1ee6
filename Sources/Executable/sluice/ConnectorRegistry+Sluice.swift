import SluiceCore
import SluicePostgresSink
import SluiceSQLServerSource
import SluiceWarehouseSink

extension ConnectorRegistry {
    /// Every connector this build of `sluice` runs: `run`, `validate` and `offsets` find a file's
    /// connector here by its `connector.class`. A new connector is its module plus one line here
    /// (README "Adding a connector").
    static let sluice = ConnectorRegistry([
        SQLServerSourceConnector.self,
        PostgresSinkConnector.self,
        WarehouseSinkConnector.self,
    ])
}
