import SluiceCore

extension DatabaseContext {
    /// OpenLineage datasets of the captured tables: each source table (`mssql://host:port`,
    /// `db.schema.table`, columns and SQL Server types from its capture instance) in, its topic out
    /// (`kafka://…`, columns with their Connect types, identity column lineage from the table).
    /// When a table has several capture instances, the last one given wins.
    func lineageDatasets(_ instances: [CaptureInstance]) -> (inputs: [LineageDataset], outputs: [LineageDataset]) {
        var current: [TableID: CaptureInstance] = [:]
        var order: [TableID] = []
        for instance in instances {
            if current[instance.table] == nil { order.append(instance.table) }
            current[instance.table] = instance
        }
        var inputs: [LineageDataset] = [], outputs: [LineageDataset] = []
        for table in order {
            guard let instance = current[table] else { continue }
            let source = LineageDataset.sqlServerTable(
                host: configuration.host, port: configuration.port, database: table.database, schema: table.schema,
                table: table.table, fields: instance.columns.map { LineageField($0.name, Self.sqlTypeText($0)) })
            var topic = LineageDataset.kafkaTopic(
                bootstrapServers: configuration.kafkaBootstrapServers, topic: namer.dataTopic(table),
                fields: instance.columns.map { LineageField($0.name, $0.field.type.rawValue) })
            topic.columnLineage = instance.columns.map { ($0.name, [LineageInputField(source, field: $0.name)]) }
            inputs.append(source)
            outputs.append(topic)
        }
        return (inputs, outputs)
    }

    /// `nvarchar(200)`, `decimal(18,2)`, `datetime2(3)`, `int`.
    static func sqlTypeText(_ column: CapturedColumn) -> String {
        switch column.type {
        case .decimal?, .numeric?:
            if let p = column.precision { return "\(column.typeName)(\(p),\(column.scale ?? 0))" }
        case .char?, .varchar?, .nchar?, .nvarchar?, .binary?, .varbinary?:
            if let n = column.length { return "\(column.typeName)(\(n == -1 ? "max" : String(n)))" }
        case .datetime2?, .datetimeoffset?, .time?:
            if let s = column.scale { return "\(column.typeName)(\(s))" }
        default: break
        }
        return column.typeName
    }
}
