/// A connector's configuration: read from the properties of a connector file whose `connector.class` is
/// one of ``connectorClasses``, validated with every problem reported at once.
public protocol ConnectorConfiguration: Sendable {
    /// The `connector.class` values that select this connector (Sluice's name first, then aliases such
    /// as Debezium's class name).
    static var connectorClasses: Set<String> { get }
    /// Sluice's own `connector.class` name, e.g. `postgres-sink`: in messages and `sluice validate`.
    static var kind: String { get }
    /// The connector's `name`.
    var name: String { get }
    init(_ properties: ConnectorProperties) throws(ConfigurationError)
}
