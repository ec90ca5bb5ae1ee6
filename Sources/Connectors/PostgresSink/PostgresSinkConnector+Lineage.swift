import SluiceCore

extension PostgresSinkConnector {
    /// OpenLineage datasets known from the connector file: each topic of `topics` in (`kafka://…`) and
    /// its replica table out (`postgres://host:port`, `db.schema.table` by `table.name.format`), for
    /// topics named `<prefix>.<db>.<schema>.<table>`. Columns are not known before the first message, so
    /// no schema facet; `topics.regex` names no topic up front, so no datasets. (The sink reports the
    /// tables with their columns once it learns their layouts: `lineageDatasets(_:tables:)`.)
    public static func lineageDatasets(_ configuration: PostgresSinkConfiguration) -> (inputs: [LineageDataset], outputs: [LineageDataset]) {
        guard case .topics(let topics) = configuration.subscription else { return ([], []) }
        var inputs: [LineageDataset] = [], outputs: [LineageDataset] = []
        for topic in topics {
            inputs.append(.kafkaTopic(bootstrapServers: configuration.kafkaBootstrapServers, topic: topic))
            let parts = topic.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 4 else { continue }
            let source = TableID(database: parts[parts.count - 3], schema: parts[parts.count - 2], table: parts[parts.count - 1])
            let target = configuration.targetTable(for: source, topic: topic)
            outputs.append(.postgresTable(host: configuration.host, port: configuration.port, database: configuration.database,
                                          schema: target.schema, table: target.table))
        }
        return (inputs, outputs)
    }

    /// OpenLineage datasets of the replica tables whose layout the sink has learned: the topics that fed
    /// them in, each table out with the `schema` facet (its columns and Postgres types as in the table,
    /// then the sink's own `__sluice_position text`, a real column of the replica) and identity
    /// `columnLineage` of each column from the topic field of the same name (none for `__sluice_position`,
    /// which is the sink's bookkeeping, not a copied value).
    public static func lineageDatasets(_ configuration: PostgresSinkConfiguration,
                                       tables: [(topics: [String], layout: PostgresTableLayout)]) -> (inputs: [LineageDataset], outputs: [LineageDataset]) {
        var inputs: [LineageDataset] = [], outputs: [LineageDataset] = []
        for (topics, layout) in tables {
            let sources = topics.map { LineageDataset.kafkaTopic(bootstrapServers: configuration.kafkaBootstrapServers, topic: $0) }
            for source in sources where !inputs.contains(where: { $0.name == source.name }) { inputs.append(source) }
            var table = LineageDataset.postgresTable(
                host: configuration.host, port: configuration.port, database: configuration.database,
                schema: layout.schema, table: layout.table,
                fields: layout.columns.map { LineageField($0.name, $0.type.sql) } + [LineageField(PostgresSinkTarget.positionColumn, "text")])
            table.columnLineage = layout.columns.map { column in (column.name, sources.map { LineageInputField($0, field: column.name) }) }
            outputs.append(table)
        }
        return (inputs, outputs)
    }
}
