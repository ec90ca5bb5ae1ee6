import SluiceKafka

/// One OpenLineage dataset of a run (an input or an output), named with OpenLineage's dataset naming
/// (https://openlineage.io/docs/spec/naming): a namespace that names the system and a name inside it.
/// It carries the `schema` facet (its columns, when known) and, for outputs, the `columnLineage` facet.
public struct LineageDataset: Hashable, Sendable {
    public var namespace: String
    public var name: String
    /// The columns, in order; empty when not known (then no `schema` facet is written).
    public var fields: [LineageField]
    /// Output column → the input columns it is made from (empty for inputs).
    public var columnLineage: [(field: String, inputs: [LineageInputField])]

    public init(namespace: String, name: String, fields: [LineageField] = [],
                columnLineage: [(field: String, inputs: [LineageInputField])] = []) {
        self.namespace = namespace
        self.name = name
        self.fields = fields
        self.columnLineage = columnLineage
    }

    public static func == (lhs: LineageDataset, rhs: LineageDataset) -> Bool {
        lhs.namespace == rhs.namespace && lhs.name == rhs.name && lhs.fields == rhs.fields
            && lhs.columnLineage.count == rhs.columnLineage.count
            && zip(lhs.columnLineage, rhs.columnLineage).allSatisfy { $0.field == $1.field && $0.inputs == $1.inputs }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(namespace)
        hasher.combine(name)
        hasher.combine(fields)
    }

    // MARK: Naming

    /// A SQL Server table: `mssql://host:port`, `database.schema.table`.
    public static func sqlServerTable(host: String, port: Int, database: String, schema: String, table: String,
                                      fields: [LineageField] = []) -> LineageDataset {
        LineageDataset(namespace: "mssql://\(host):\(port)", name: "\(database).\(schema).\(table)", fields: fields)
    }

    /// A Postgres table: `postgres://host:port`, `database.schema.table`.
    public static func postgresTable(host: String, port: Int, database: String, schema: String, table: String,
                                     fields: [LineageField] = []) -> LineageDataset {
        LineageDataset(namespace: "postgres://\(host):\(port)", name: "\(database).\(schema).\(table)", fields: fields)
    }

    /// A Kafka topic: `kafka://host:port` of the first bootstrap server (OpenLineage names a cluster by
    /// one of its brokers), the topic as the name.
    public static func kafkaTopic(bootstrapServers: String, topic: String, fields: [LineageField] = []) -> LineageDataset {
        LineageDataset(namespace: kafkaNamespace(bootstrapServers: bootstrapServers), name: topic, fields: fields)
    }

    /// `kafka://host:port` of the first of `host:port[,host:port…]` (a missing port is Kafka's 9092; a
    /// `PLAINTEXT://` or other listener prefix is dropped).
    public static func kafkaNamespace(bootstrapServers: String) -> String {
        var first = KafkaConnectionConfiguration.bootstrapServerList(bootstrapServers).first ?? ""
        if let scheme = first.firstRange(of: "://") { first = String(first[scheme.upperBound...]) }
        let hasPort: Bool
        if first.hasPrefix("["), let close = first.lastIndex(of: "]") {
            hasPort = first[close...].contains(":")
        } else {
            hasPort = first.contains(":")
        }
        return "kafka://" + (hasPort ? first : first + ":9092")
    }
}

/// A column in a `schema` facet.
public struct LineageField: Hashable, Sendable {
    public var name: String
    public var type: String

    public init(_ name: String, _ type: String) {
        self.name = name
        self.type = type
    }
}

/// An input column of a `columnLineage` entry and how the output column is made from it.
public struct LineageInputField: Hashable, Sendable {
    public enum Transformation: Hashable, Sendable {
        /// The value is copied unchanged (OpenLineage DIRECT / IDENTITY).
        case identity
        /// The value is computed from the input (OpenLineage DIRECT / TRANSFORMATION), described.
        case transformation(String)
    }

    public var namespace: String
    public var name: String
    public var field: String
    public var transformation: Transformation

    public init(namespace: String, name: String, field: String, transformation: Transformation = .identity) {
        self.namespace = namespace
        self.name = name
        self.field = field
        self.transformation = transformation
    }

    public init(_ dataset: LineageDataset, field: String, transformation: Transformation = .identity) {
        self.init(namespace: dataset.namespace, name: dataset.name, field: field, transformation: transformation)
    }
}

