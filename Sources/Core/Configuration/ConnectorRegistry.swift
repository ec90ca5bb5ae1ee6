import ServiceLifecycle

/// The connectors one build of Sluice runs, found by a file's `connector.class`.
public struct ConnectorRegistry: Sendable {
    /// A connector file read, classified and validated: its configuration and what the connector's
    /// definition makes of it.
    public struct Loaded: Sendable {
        public let definition: any ConnectorDefinition.Type
        public let configuration: any ConnectorConfiguration
        /// `connector.class`'s Sluice name, e.g. `postgres-sink`.
        public var kind: String { type(of: configuration).kind }
        public var name: String { configuration.name }
        let make: @Sendable (ConnectorContext) -> any Service
        /// See ``ConnectorDefinition/startingLineageDatasets(_:)``.
        public let lineageDatasets: ConnectorLineageDatasets?

        public func makeService(_ context: ConnectorContext) -> any Service { make(context) }
    }

    private let definitions: [any ConnectorDefinition.Type]

    public init(_ definitions: [any ConnectorDefinition.Type]) {
        self.definitions = definitions
    }

    /// Sluice's names of the connectors, in registry order.
    public var kinds: [String] { definitions.map { $0.kindName } }

    /// The configuration types, for `ConnectorFile.load(path:environment:as:)`.
    public var configurations: [any ConnectorConfiguration.Type] { definitions.map { $0.configurationType } }

    /// Reads `path` (substituting the environment), finds its connector and validates its configuration.
    public func load(path: String, environment: [String: String]) throws(ConfigurationError) -> Loaded {
        let properties = try ConnectorFile.read(path: path, environment: environment)
        let definition = try ConnectorFile.select(properties, among: definitions.map { ($0, $0.configurationType) })
        return try definition.loaded(properties)
    }
}

extension ConnectorDefinition {
    static var configurationType: any ConnectorConfiguration.Type { Configuration.self }
    static var kindName: String { Configuration.kind }

    static func loaded(_ properties: ConnectorProperties) throws(ConfigurationError) -> ConnectorRegistry.Loaded {
        let configuration = try Configuration(properties)
        return ConnectorRegistry.Loaded(definition: Self.self, configuration: configuration,
                                        make: { makeService(configuration, context: $0) },
                                        lineageDatasets: startingLineageDatasets(configuration))
    }
}
