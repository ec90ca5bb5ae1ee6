import SluiceCore

extension PostgresSinkConnector {
    /// OpenLineage datasets known from the connector file: each topic of `topics` in (`kafka://…`) and
    /// its replica table out (`postgres://host:port`, `db.schema.table` by `table.name.format`), for
    /// topics named `<prefix>.<db>.<schema>.<table>`. Columns are not known before the first message, so
    /// no schema facet; `topics.regex` names no topic up front, so no datasets.
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
}
