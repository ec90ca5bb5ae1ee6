import SluiceCore

extension WarehouseSinkConnector {
    /// OpenLineage datasets of the warehouse sink, all known from the connector file and the warehouse
    /// model: the three credit topics in, the dimensions and facts out (`mssql://host:port`,
    /// `<db>.<schema>.<table>`) with their columns, identity lineage for copied columns, and the SCD2
    /// validity columns as a transformation of the source commit time (`source.ts_ms`).
    public static func lineageDatasets(_ configuration: WarehouseSinkConfiguration) -> (inputs: [LineageDataset], outputs: [LineageDataset]) {
        let model = WarehouseModel(configuration: configuration)
        func topic(_ sourceTable: String) -> LineageDataset? {
            configuration.topics.first { $0.hasSuffix("." + sourceTable) }
                .map { LineageDataset.kafkaTopic(bootstrapServers: configuration.kafkaBootstrapServers, topic: $0) }
        }
        func output(_ table: String, _ columns: [(String, String, LineageInputField.Transformation?)], from input: LineageDataset) -> LineageDataset {
            var dataset = LineageDataset.sqlServerTable(host: configuration.host, port: configuration.port,
                                                        database: configuration.database, schema: model.schema, table: table,
                                                        fields: columns.map { LineageField($0.0, $0.1) })
            dataset.columnLineage = columns.compactMap { name, _, transformation in
                guard let transformation else { return nil }
                let field: String = switch transformation {
                case .identity: name
                case .transformation: "source.ts_ms"
                }
                return (name, [LineageInputField(input, field: field, transformation: transformation)])
            }
            return dataset
        }
        let commitTime = "datetime2(3)"
        func dimension(_ d: DimensionModel, from input: LineageDataset) -> LineageDataset {
            let attributes = (d.tracked + d.type1).map { ($0.name, typeText($0.kind), Optional(LineageInputField.Transformation.identity)) }
            return output(d.table, [(d.surrogateColumn, "bigint", nil), (d.keyColumn, "int", .identity)] + attributes + [
                ("valid_from", commitTime, .transformation("the source commit time (cdc.lsn_time_mapping) of the change that made this version")),
                ("valid_to", commitTime, .transformation("the source commit time of the change that made the next version; NULL while current")),
                ("is_current", "bit", nil),
            ], from: input)
        }
        var inputs: [LineageDataset] = [], outputs: [LineageDataset] = []
        if let customers = topic(model.customersTable) {
            inputs.append(customers)
            outputs.append(dimension(model.customer, from: customers))
        }
        if let applications = topic(model.applicationsTable) {
            inputs.append(applications)
            outputs.append(dimension(model.application, from: applications))
            let copied = WarehouseModel.applicationFactTableColumns.map { column in
                (column.name, typeText(column.kind), Optional(column.name == "approved_amount"
                    ? LineageInputField.Transformation.transformation("requested_amount once the status is approved")
                    : .identity))
            }
            var fact = output("fact_credit_application", [("application_id", "int", .identity)] + copied + [
                ("recorded_at", commitTime, .transformation("the source commit time of the application's first event")),
            ], from: applications)
            fact.columnLineage = fact.columnLineage.map { entry in
                entry.field == "approved_amount"
                    ? (entry.field, [LineageInputField(applications, field: "requested_amount", transformation: .transformation("requested_amount once the status is approved")),
                                     LineageInputField(applications, field: "status", transformation: .transformation("requested_amount once the status is approved"))])
                    : entry
            }
            outputs.append(fact)
        }
        if let repayments = topic(model.repaymentsTable) {
            inputs.append(repayments)
            let copied = WarehouseModel.repaymentFactColumns.map { ($0.name, typeText($0.kind), Optional(LineageInputField.Transformation.identity)) }
            outputs.append(output("fact_repayment", [("repayment_id", "int", .identity)] + copied + [
                ("recorded_at", commitTime, .transformation("the source commit time of the repayment's first event")),
            ], from: repayments))
        }
        return (inputs, outputs)
    }

    static func typeText(_ kind: WarehouseColumn.Kind) -> String {
        switch kind {
        case .int: "int"
        case .string(let n): "nvarchar(\(n))"
        case .decimal(let p, let s): "decimal(\(p),\(s))"
        case .date: "date"
        case .timestamp: "datetime2(3)"
        }
    }
}
