import Logging
import ServiceLifecycle

/// What `sluice run` hands a connector when it builds the connector's service.
public struct ConnectorContext: Sendable {
    public var health: HealthRegistry
    public var logger: Logger
    /// The connector's OpenLineage run; nil when lineage is off.
    public var lineage: LineageRun?
    /// Where `POST /signals` leaves signals for this run's sources; nil: no signals.
    public var signals: SourceSignalInbox?

    public init(health: HealthRegistry, logger: Logger, lineage: LineageRun? = nil, signals: SourceSignalInbox? = nil) {
        self.health = health
        self.logger = logger
        self.lineage = lineage
        self.signals = signals
    }
}

/// The OpenLineage datasets a connector reads and writes, known from its configuration alone.
public typealias ConnectorLineageDatasets = (inputs: [LineageDataset], outputs: [LineageDataset])

/// One kind of connector, as its module declares it: its configuration type (and with it the
/// `connector.class` names) and how it makes its service. The executable lists every definition in one
/// ``ConnectorRegistry``; `sluice run`, `sluice validate` and `sluice offsets` find a file's connector
/// there (README "Adding a connector").
public protocol ConnectorDefinition: SendableMetatype {
    associatedtype Configuration: ConnectorConfiguration
    /// The long-running service of `configuration` (run in the process's `ServiceGroup`).
    static func makeService(_ configuration: Configuration, context: ConnectorContext) -> any Service
    /// The datasets the connector's lineage run names at its start; nil: the connector reports its
    /// datasets itself while it runs (through `context.lineage`).
    static func startingLineageDatasets(_ configuration: Configuration) -> ConnectorLineageDatasets?
}
